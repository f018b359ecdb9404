package textscan

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Lures: how fraud texts without a link are built, whatever their wording.
// A scam text has a structure a personal or business text rarely has all of:
// a story (an impersonated child with a new number; a prize; a job paying
// per day; an account about to close; a parcel held; a refund; a code sent
// "by mistake"; returns guaranteed), and a request (pay, transfer, do a
// favour, answer on a messenger, call this number, reply YES), often with
// an amount and urgency. The lexicon below names those parts in about
// twenty languages; LureScore adds up the parts it finds. One part alone
// ("hi mum", "new number", "call me", "urgent") is everyday speech and
// scores nothing; the structure does.

// LureKind is the story a lure tells.
type LureKind uint8

// Lure kinds.
const (
	LureNone    LureKind = iota
	LureFamily           // "Hi Mum, my phone broke, this is my new number": family or friend impersonation
	LurePrize            // prizes, lotteries, gift cards
	LureJob              // task and recruitment scams: "earn 300 EUR a day from home"
	LureAccount          // bank or account threats: "your account will be closed"
	LureParcel           // parcels held, customs fees, redelivery
	LureRefund           // tax refunds, overpayments, compensation
	LureCode             // OTP theft: "I sent you a code by mistake, send it back"
	LureInvest           // investment and crypto: "guaranteed returns"
	// LureWrongNumber: the opener of romance and investment scams ("Hi, is
	// this Jessica? It's Lisa from the yoga class"): a person could write
	// it, so it scores 2 at most; a wave of it is the signal.
	LureWrongNumber
	lureKinds
)

var lureKindNames = [lureKinds]string{"", "family_new_number", "prize", "job", "account_threat", "parcel", "refund", "code_theft", "investment", "wrong_number"}

// String names the kind (the evidence's lure=).
func (k LureKind) String() string {
	if k < lureKinds {
		return lureKindNames[k]
	}
	return ""
}

// Roles a cue plays in a lure.
type lureRole uint16

const (
	roleCore   lureRole = 1 << iota // the story itself ("you have won", "account will be closed")
	roleHint                        // part of a story; two different hints (not overlapping) make a core
	roleOpener                      // family or friend address: "hi mum", "papa", "it's me"
	roleClaim                       // the new number or the lost phone
	roleStory                       // why: "my phone broke", "lost my phone"
	roleMoney                       // a request to pay or transfer money
	roleFavour                      // "can you do me a favour", urgency from a relative
	roleAnswer                      // "call", "text me", "save this number": where to answer, as friends say it
	roleReply                       // "reply YES", "call us", "contact our", "rufen Sie an": as a business or a stranger says it
	roleAmount                      // a currency in words of a script ShapeOf does not read (евро, يورو, 元)
)

// Generic cues belong to no kind.
type lureCue struct {
	kind LureKind
	role lureRole
}

// lureGroup is a set of phrases of one kind and role. A trailing '*' makes
// a phrase a stem (matched at a word start, any ending). Phrases are
// normalized like message text (Normalize), so case, accents and
// look-alikes do not matter.
type lureGroup struct {
	kind    LureKind
	role    lureRole
	phrases []string
}

var lureLexicon = []lureGroup{
	// Family and friend impersonation ("hi mum" scam).
	{LureFamily, roleOpener, []string{
		// en
		"mum", "mom", "mummy", "mommy", "mama", "dad", "daddy", "papa", "its me", "it s me", "this is your son", "this is your daughter",
		// de nl
		"mami", "mutti", "papi", "vati", "ich bin s", "ich bins", "ich bin es", "pap", "ik ben het",
		// fr es it pt
		"maman", "c est moi", "mamá", "mami", "papá", "soy yo", "mamma", "babbo", "sono io", "mãe", "mae", "mainha", "pai", "paizinho", "sou eu",
		// pl cs ro sv da no
		"mamo", "mamusiu", "tato", "tatusiu", "to ja", "mami", "tati", "eu sunt", "mamă", "tată", "mamma", "pappa", "det är jag", "det er mig", "det er meg",
		// tr el hu
		"anne", "anneciğim", "annem", "baba", "babacım", "μαμά", "μπαμπά", "εγώ είμαι", "anya", "anyu", "én vagyok",
		// ru uk ar hi zh ja ko id vi (a word that folds into another
		// language's common word is left out: мам reads "mam", Polish for
		// "I have"; mẹ reads "me")
		"мама", "мамочка", "пап", "папа", "это я", "це я", "ماما", "أمي", "امي", "بابا", "أبي", "ابي", "انا ابنك", "انا بنتك",
		"माँ", "मां", "मम्मी", "पापा", "मैं हूँ", "妈", "媽", "爸", "是我", "お母さん", "母さん", "お父さん", "엄마", "아빠", "나야",
		"ibu", "ayah", "bunda", "ini aku", "ba ơi", "con đây",
	}},
	{LureFamily, roleClaim, []string{
		"changed my number", "changed number", "nummer gewechselt", "nummer geändert", "changé de numéro", "changé de num", "cambié de número", "cambiado de número",
		"cambiato numero", "mudei de número", "mudei o número", "zmieniłem numer", "zmieniłam numer", "numaramı değiştirdim", "сменил номер", "сменила номер", "поменял номер", "поменяла номер", "змінив номер",
		"غيرت رقمي", "नंबर बदल", "换了号码", "換了號碼", "번호를 바꿨",
		"new number", "new phone number", "my new no", "new mobile number", "new cell number", "temporary number", "temporary phone", "friend s phone", "borrowed phone",
		"neue nummer", "neue handynummer", "handy von einer freundin", "handy eines freundes",
		"nieuw nummer", "nieuwe nummer",
		"nouveau numéro", "nouveau numero", "nouveau num",
		"nuevo número", "número nuevo",
		"nuovo numero", "numero nuovo",
		"novo número", "número novo",
		"nowy numer", "nové číslo", "număr nou", "noul număr",
		"nytt nummer", "nyt nummer", "nya nummer", "uusi numero",
		"yeni numara", "yeni numaram", "νέο νούμερο", "νέος αριθμός", "νέο αριθμό", "καινούργιο νούμερο", "új szám", "új számom",
		"новый номер", "новий номер",
		"رقمي الجديد", "رقم جديد", "الرقم الجديد",
		"नया नंबर", "नया नम्बर", "नए नंबर",
		"新号码", "新號碼", "新手机号", "新手機號", "換號", "换号", "新しい番号", "番号が変わ", "새 번호", "새번호", "번호 바꿨",
		"nomor baru", "nomer baru", "số mới", "số điện thoại mới",
	}},
	{LureFamily, roleStory, []string{
		"phone broke", "phone is broken", "phone broken", "broke my phone", "dropped my phone", "lost my phone", "phone was stolen", "phone got stolen", "phone died", "phone is dead", "phone fell", "smashed my phone", "cracked my phone",
		"handy ist kaputt", "handy kaputt", "handy ist runtergefallen", "handy verloren", "handy wurde geklaut", "handy gestohlen", "handy ins wasser",
		"telefoon is kapot", "telefoon kapot", "telefoon kwijt",
		"téléphone est cassé", "téléphone cassé", "portable cassé", "cassé mon téléphone", "perdu mon téléphone", "téléphone volé", "tombé dans l eau",
		"se me rompió", "se me cayó", "perdí mi teléfono", "perdí el móvil", "me robaron el", "teléfono roto", "móvil roto",
		"telefono rotto", "si è rotto", "ho perso il telefono", "cellulare rotto", "mi hanno rubato",
		"celular quebrou", "telemóvel avariou", "telemóvel partiu", "perdi o celular", "perdi o telemóvel", "roubaram meu", "celular caiu",
		"telefon się zepsuł", "zepsuł mi się", "zgubiłem telefon", "zgubiłam telefon", "ukradli mi", "rozbiłem telefon",
		"telefonum bozuldu", "telefonum kırıldı", "telefonumu kaybettim", "telefonum çalındı",
		"телефон сломался", "телефон разбился", "потерял телефон", "потеряла телефон", "украли телефон", "телефон зламався", "загубив телефон",
		"هاتفي تعطل", "هاتفي انكسر", "ضاع هاتفي", "سرق هاتفي", "تلفوني خربان",
		"फोन खराब", "फ़ोन खराब", "फोन टूट", "फोन खो", "फोन चोरी",
		"手机坏了", "手機壞了", "手机丢了", "手機丟了", "手机掉", "携帯が壊れ", "スマホが壊れ", "폰이 고장", "폰 잃어버",
		"hp rusak", "hp hilang", "điện thoại bị hỏng", "mất điện thoại",
	}},
	// Requests a relative makes in the scam: pay, transfer, a favour.
	{LureNone, roleMoney, []string{
		"send money", "send me money", "transfer", "pay a bill", "pay this bill", "pay the bill", "pay an invoice", "pay for me", "lend me", "borrow", "need money", "need some money", "bank transfer", "sort code", "account number",
		"überweis*", "rechnung bezahlen", "rechnung begleichen", "geld leihen", "brauche geld", "kontonummer", "iban",
		"overmak*", "rekening betalen", "geld lenen",
		"virement", "virer", "payer une facture", "payer la facture", "prêter de l argent", "besoin d argent", "rib",
		"transferencia", "transferir", "pagar una factura", "pagar la factura", "préstame", "prestarme", "necesito dinero", "bizum",
		"bonifico", "pagare una bolletta", "pagare la bolletta", "prestarmi", "ho bisogno di soldi", "ricarica",
		"transferência", "transferir", "pagar um boleto", "pagar uma conta", "pagar a conta", "me empresta", "preciso de dinheiro", "pix",
		"przelew*", "zapłacić rachunek", "zapłacić fakturę", "pożyczyć", "potrzebuję pieniędzy", "blik",
		"havale", "eft", "fatura öde*", "borç ver*", "paraya ihtiyacım",
		"перевед*", "перевест*", "перекин*", "скин*", "оплатить счёт", "оплатить счет", "одолжи", "нужны деньги", "займи",
		"حول لي", "تحويل", "ادفع الفاتورة", "دفع فاتورة", "سلفني", "احتاج فلوس", "أحتاج مال",
		"पैसे भेज", "पैसे ट्रांसफर", "बिल भर", "पैसों की ज़रूरत", "पैसे चाहिए", "पेमेंट कर",
		"转账", "轉賬", "汇款", "匯款", "打钱", "借钱", "借我", "付款", "振り込", "송금", "입금",
		"transfer uang", "kirim uang", "pinjam uang", "chuyển khoản", "chuyển tiền", "cho mượn tiền",
		"virament", "plătească", "bani", "överför", "swisha", "swish", "mobilepay", "vipps",
	}},
	{LureNone, roleFavour, []string{
		"favour", "favor", "urgent*", "asap", "emergency", "help me out", "can you help me", "quick question",
		"gefallen", "dringend", "notfall", "kannst du mir helfen", "hilfe",
		"plezier doen", "dringend",
		"un service", "urgence", "rendre service", "aide moi", "aide-moi",
		"un favor", "urgencia", "ayúdame", "favore", "urgenza", "aiutami", "um favor", "urgência", "me ajuda",
		"przysług*", "pilne", "pilnie", "pomóż mi", "iyilik", "acil", "yardım eder misin",
		"одолжение", "срочно", "терміново", "помоги", "допоможи",
		"خدمة", "ضروري", "عاجل", "ساعدني", "मदद", "ज़रूरी", "जरूरी", "अर्जेंट",
		"帮个忙", "幫個忙", "帮我", "幫我", "急", "お願い", "급해", "부탁",
		"tolong", "darurat", "giúp", "gấp", "favoare", "urgent", "tjänst", "hjälp mig", "tjeneste", "pomoc", "segítség",
	}},
	// Where to answer: generic calls to act.
	{LureNone, roleAnswer, []string{
		"call", "call me", "call back", "reply", "text me", "message me", "write to me", "save this number", "save my number", "delete the old", "old number",
		"anrufen", "ruf an", "ruf mich", "antworte*", "schreib mir", "melde dich", "speicher*", "alte nummer",
		"bel ", "bellen", "antwoord", "stuur me", "sla dit nummer", "oude nummer",
		"appelle", "réponds", "écris-moi", "écris moi", "enregistre", "ancien numéro",
		"llama", "llámame", "responde", "escríbeme", "escribe", "guarda este", "número antiguo",
		"chiama", "chiamami", "rispondi", "scrivimi", "scrivi", "salva questo", "vecchio numero",
		"liga", "me liga", "me manda", "manda mensagem", "salva esse", "número antigo",
		"zadzwoń", "zadzwon", "odpowiedz", "napisz", "zapisz", "stary numer",
		"ara", "ara beni", "yaz bana", "kaydet", "eski numara",
		"позвони", "ответь", "напиши", "сохрани", "старый номер", "зателефонуй",
		"رد", "راسلني", "اكتب لي", "احفظ", "الرقم القديم",
		"कॉल कर", "फोन कर", "मैसेज कर", "सेव कर", "पुराना नंबर",
		"回复", "回覆", "加我", "存一下", "旧号码", "電話して", "返信", "전화", "답장",
		"balas", "simpan nomor", "gọi", "nhắn tin", "lưu số", "sună", "ring", "svara", "soita", "zavolej",
	}},
	// Answers as a business or a stranger asks for them: formal address,
	// "reply YES", "contact our advisor"; messengers named in other
	// scripts (ShapeOf counts WhatsApp, Telegram, Viber, WeChat in Latin).
	{LureNone, roleReply, []string{
		"微信", "电报", "飛機", "ワッツアップ", "ライン", "카톡", "카카오톡", "ватсап*", "вотсап*", "вайбер*", "телеграм*", "واتساب", "واتس اب", "تيليجرام", "तेलीग्राम", "टेलीग्राम", "व्हाट्सएप", "line id",
		"call now", "call us", "call this number", "call the number", "reply yes", "reply with", "reply now", "contact us", "contact our", "text us", "message us", "for details", "for more info",
		"rufen sie", "antworten sie", "schreiben sie", "kontaktieren sie", "melden sie sich", "antworte mit ja", "bel ons", "neem contact",
		"appelez", "rappelez", "répondez", "écrivez", "contactez",
		"llame", "llámanos", "responda", "escríbanos", "contacte", "contáctenos",
		"chiami", "rispondete", "risponda", "contatta", "contattaci",
		"ligue", "responda", "escreva", "entre em contato", "fale conosco",
		"zadzwoń pod", "odpowiedz tak", "skontaktuj się", "napisz do nas",
		"arayın", "arayin", "yanıtla", "cevap verin", "iletişime geç", "bize yazın",
		"позвоните", "звоните", "ответьте", "пишите", "напишите нам", "свяжитесь", "напишіть",
		"اتصل", "اتصلوا", "تواصل", "راسلنا", "संपर्क कर", "जवाब दें", "कॉल करें",
		"致电", "拨打", "联系", "聯繫", "連絡", "연락", "hubungi", "trả lời", "liên hệ", "răspunde", "svar", "vastaa", "odpověz", "hívjon", "válaszoljon", "καλέστε", "απαντήστε",
	}},
	// Currencies in words ShapeOf does not know (it reads signs and ASCII
	// words): an amount when the text has digits.
	{LureNone, roleAmount, []string{
		"евро", "рубл*", "руб", "доллар*", "гривен*", "грн", "тенге", "лир*", "يورو", "دولار", "ريال", "درهم", "جنيه", "دينار",
		"रुपये", "रुपए", "रुपया", "रु", "元", "块", "萬", "万", "円", "원", "ευρώ", "złotych", "zloty", "forint", "ft", "lei", "kr", "kronor", "kroner",
		"rupiah", "rp", "đồng", "vnd", "naira", "cedi", "ksh", "rand", "peso*", "reais", "real", "franc*", "lira",
	}},
	// Prizes.
	{LurePrize, roleCore, []string{
		"you have won", "you ve won", "you won", "you are selected", "you have been selected", "you ve been selected", "you are a winner", "you re a winner", "claim your prize", "claim your reward",
		"sie haben gewonnen", "du hast gewonnen",
		"u heeft gewonnen", "je hebt gewonnen",
		"vous avez gagné", "tu as gagné", "vous avez été sélectionné", "lot à réclamer",
		"has ganado", "ha ganado", "usted ha ganado", "ha sido seleccionado",
		"hai vinto", "ha vinto", "sei stato selezionato",
		"você ganhou", "voce ganhou", "ganhou um prémio", "ganhou um prêmio", "foi selecionado",
		"wygrałeś", "wygrałaś", "zostałeś wybrany",
		"kazandınız", "kazandın",
		"вы выиграли", "ты выиграл", "ваш выигрыш", "ви виграли",
		"لقد ربحت", "لقد فزت", "مبروك لقد",
		"आपने जीता", "आपने जीते", "इनाम जीता",
		"恭喜您中奖", "恭喜你中奖",
		"anda menang", "selamat anda", "bạn đã trúng", "trúng thưởng", "ai câștigat", "du har vunnit", "du har vundet", "olet voittanut", "vyhráli jste", "ön nyert", "κερδίσατε",
	}},
	{LurePrize, roleHint, []string{
		"cash prize", "lottery", "jackpot", "gewinner", "hauptgewinn", "geldpreis", "lotterie", "gewinnspiel", "gagnant", "loterie", "ganador", "lotería", "vincitore", "lotteria", "vencedor", "sorteado", "wygrana", "zwycięzca", "loteria", "ikramiye", "piyango", "talihli", "победитель", "денежный приз", "лотерея", "فائز", "جائزة نقدية", "يانصيب", "लॉटरी", "विजेता", "中奖", "中獎", "获奖", "当選", "당첨", "premio en efectivo", "premio in denaro", "prémio em dinheiro", "prêmio em dinheiro", "nagroda pieniężna", "prijs gewonnen",
		"congratulations", "prize", "reward", "gift card", "voucher", "winner", "free iphone", "claim",
		"herzlichen glückwunsch", "gewinn", "preis", "gutschein", "félicitations", "cadeau", "felicidades", "enhorabuena", "premio", "regalo",
		"congratulazioni", "parabéns", "prémio", "prêmio", "gratulacje", "nagroda", "tebrikler", "hediye", "поздравляем", "приз", "подарок",
		"مبروك", "جائزة", "बधाई", "इनाम", "恭喜", "奖金", "獎金", "selamat", "hadiah", "chúc mừng", "giải thưởng",
	}},
	// Jobs paying per day.
	{LureJob, roleCore, []string{
		"no experience needed", "no experience required", "earn from home", "daily pay", "daily income", "paid daily", "recruitment agency",
		"heimarbeit", "ohne erfahrung", "tagesverdienst", "pro tag verdienen",
		"zonder ervaring",
		"télétravail rémunéré", "sans expérience", "suite à votre candidature", "revenu quotidien",
		"sin experiencia", "ingresos diarios",
		"senza esperienza", "guadagno giornaliero",
		"sem experiência", "ganhos diários",
		"bez doświadczenia",
		"deneyim gerekmez", "günlük kazanç",
		"без опыта", "доход от", "ежедневный доход",
		"بدون خبرة", "دخل يومي",
		"घर बैठे", "बिना अनुभव", "रोज़ाना कमाई", "रोजाना कमाई",
		"日赚", "日賺", "无需经验",
	}},
	{LureJob, roleHint, []string{
		"job offer", "part time job", "part-time job", "hiring now", "we are hiring", "nebenjob", "stellenangebot", "bijbaan", "offre d emploi", "oferta de empleo", "oferta de trabajo", "trabajo a tiempo parcial", "offerta di lavoro", "lavoro part time", "oferta de emprego", "renda extra", "oferta pracy", "praca zdalna", "dorywcza praca", "iş teklifi", "ek iş", "удалённая работа", "удаленная работа", "подработка", "віддалена робота", "وظيفة", "पार्ट टाइम", "兼职", "兼職", "高薪", "副業", "在宅ワーク", "부업", "kerja paruh waktu", "lowongan", "việc làm thêm", "loc de muncă", "deltidsjobb",
		// Working from home is everyday speech; it is a lure beside pay per day.
		"work from home", "von zu hause arbeiten", "thuiswerk", "travail à domicile", "trabajo desde casa", "lavoro da casa", "trabalho em casa", "trabalhe de casa", "praca z domu", "evden çalış*", "работа на дому", "робота вдома", "العمل من المنزل", "عمل من المنزل", "घर से काम", "在家工作", "재택근무", "kerja dari rumah", "việc làm tại nhà", "lucru de acasă", "jobb hemifrån", "práce z domova", "otthoni munka",
		"earn", "a day", "per day", "daily", "per hour", "an hour", "from home", "part time", "part-time", "recruiter", "hiring", "salary", "commission",
		"verdienen", "pro tag", "am tag", "täglich", "pro stunde", "gehalt", "gagnez", "gagner", "par jour", "par heure", "salaire",
		"gana", "ganar", "al día", "por día", "por hora", "salario", "guadagna", "guadagnare", "al giorno", "all ora", "stipendio",
		"ganhe", "ganhar", "por dia", "por hora", "salário", "zarabiaj", "zarabiać", "dziennie", "za godzinę", "kazan*", "günlük", "saatlik", "maaş",
		"заработ*", "в день", "в час", "зарплата", "на дому", "على اليوم", "يوميا", "راتب", "प्रतिदिन", "रोज़", "कमाएं", "कमाई", "每天", "每日", "薪",
		"candidature", "candidatura", "resume", "cv",
		// Task scams: "simple online tasks", and recruitment out of the blue.
		"online tasks", "easy tasks", "simple tasks", "we are looking for", "einfache aufgaben", "online aufgaben", "wir suchen mitarbeiter", "mitarbeiter gesucht",
		"tâches simples", "tâches en ligne", "nous recrutons", "tareas sencillas", "tareas en línea", "buscamos personal", "compiti semplici", "stiamo cercando",
		"tarefas simples", "tarefas online", "estamos contratando", "proste zadania", "zadania online", "zatrudnimy", "basit görevler", "eleman arıyoruz",
		"простые задания", "задания онлайн", "требуются сотрудники", "ищем сотрудников", "مهام بسيطة", "आसान काम", "简单任务", "招聘",
	}},
	// Bank and account threats.
	{LureAccount, roleCore, []string{
		"your account will be closed", "your account will be suspended", "your account has been suspended", "your account has been locked", "your account has been blocked",
		"your card has been blocked", "your card has been suspended", "ihr konto wurde gesperrt", "ihr konto wird gesperrt", "votre compte a été suspendu", "votre compte sera suspendu",
		"su cuenta ha sido bloqueada", "su cuenta será bloqueada", "il tuo conto è stato bloccato", "sua conta foi bloqueada", "twoje konto zostało zablokowane",
		"hesabınız bloke edildi", "ваш аккаунт заблокирован", "ваша карта заблокирована", "تم تعليق حسابك", "تم إيقاف حسابك", "आपका खाता बंद", "您的账户已被冻结", "您的帳戶已被凍結",
	}},
	// An account threat: whose account (the reader's) and what happens to it.
	{LureAccount, roleHint, []string{
		"your account", "your card", "your bank account", "ihr konto", "ihre karte", "dein konto", "deine karte", "votre compte", "votre carte", "su cuenta", "su tarjeta", "tu cuenta", "tu tarjeta",
		"il tuo conto", "la tua carta", "il suo conto", "sua conta", "seu cartão", "seu cartao", "twoje konto", "twoja karta", "hesabınız", "kartınız", "uw rekening", "uw pas",
		"ваш аккаунт", "ваш счёт", "ваш счет", "ваша карта", "ваш рахунок", "ваша картка", "حسابك", "بطاقتك", "आपका खाता", "आपका कार्ड", "您的账户", "你的账户", "您的帳戶", "お客様の口座", "고객님의 계좌",
		"will be closed", "will be suspended", "has been suspended", "has been locked", "has been blocked", "is blocked", "is suspended", "unusual activity", "suspicious activity", "unauthorised", "unauthorized",
		"gesperrt", "eingeschränkt", "suspendu", "bloqué", "bloquée", "bloqueada", "bloqueado", "suspendida", "bloccato", "bloccata", "sospeso", "suspensa", "zablokowane", "zablokowana",
		"bloke", "askıya", "geblokkeerd", "заблокир*", "заблоковано", "موقوف", "تعليق", "محظورة", "ब्लॉक", "बंद हो", "冻结", "凍結", "정지", "activité suspecte", "actividad sospechosa", "verdächtige",
	}},
	// Parcels.
	{LureParcel, roleCore, []string{
		"package could not be delivered", "parcel could not be delivered", "could not be delivered", "delivery failed", "failed delivery", "customs fee", "unpaid customs", "parcel is on hold", "package is on hold", "redelivery fee", "shipping fee",
		"paket konnte nicht zugestellt", "nicht zugestellt werden", "zustellung fehlgeschlagen", "zollgebühr", "paket wartet", "sendung wartet",
		"pakket kon niet worden bezorgd", "bezorging mislukt", "douanekosten",
		"colis n a pas pu être livré", "colis en attente", "frais de douane", "livraison a échoué", "échec de livraison",
		"paquete no pudo ser entregado", "paquete retenido", "tasas de aduana", "entrega fallida",
		"pacco non è stato consegnato", "pacco in giacenza", "spese doganali", "consegna non riuscita",
		"encomenda retida", "encomenda não pôde ser entregue", "taxa alfandegária", "taxas alfandegárias", "entrega falhou",
		"paczka nie mogła zostać dostarczona", "paczka czeka", "opłata celna", "dopłata do przesyłki",
		"kargonuz teslim edilemedi", "gümrük ücreti", "kargo bekliyor",
		"посылка не может быть доставлена", "таможенная пошлина", "посылка ожидает", "посилка очікує",
		"تعذر توصيل", "طردك", "رسوم جمركية", "पार्सल डिलीवर नहीं", "कस्टम शुल्क",
		"包裹无法投递", "包裹無法投遞", "包裹滞留", "关税", "お荷物をお届けできません", "不在のため", "배송 실패", "관세",
		"paket anda tertahan", "bưu kiện", "coletul dvs", "ditt paket", "din pakke",
	}},
	// Refunds and compensation.
	{LureRefund, roleCore, []string{
		"you have a pending", "pending tax refund", "pending refund", "you are eligible for a refund", "you are entitled to a refund", "your tax refund", "your refund of",
		"ihre steuerrückerstattung", "ihre rückerstattung", "sie haben anspruch auf", "votre remboursement", "vous avez droit à un remboursement", "su devolución", "su reembolso",
		"il tuo rimborso", "hai diritto a un rimborso", "seu reembolso", "sua restituição", "twój zwrot", "vergi iadeniz", "iadeniz", "ваш возврат", "вам положен", "استردادك", "आपका रिफंड", "您的退税", "您有一笔退款",
	}},
	{LureRefund, roleHint, []string{
		"tax refund", "steuerrückerstattung", "steuererstattung", "belastingteruggave", "remboursement d impôt", "devolución de impuestos", "rimborso fiscale", "reembolso de imposto",
		"zwrot podatku", "vergi iadesi", "возврат налога", "налоговый вычет", "استرداد ضريبي", "टैक्स रिफंड", "退税", "退稅", "還付金",
		"refund", "compensation", "rückerstattung", "erstattung", "terugbetaling", "remboursement", "reembolso", "devolución", "rimborso", "restituição",
		"zwrot", "iade", "возврат", "компенсация", "استرداد", "रिफंड", "退款",
	}},
	// OTP theft.
	{LureCode, roleCore, []string{
		"code by mistake", "code to you by mistake", "sent you a code by mistake",
		"code aus versehen", "code per ongeluk", "code par erreur", "código por error", "codice per errore",
		"código por engano", "kod przez pomyłkę", "kodu yanlışlıkla", "код по ошибке",
		"الرمز بالخطأ", "कोड गलती से",
	}},
	// Asking for a code someone received: with a second sign (whose code,
	// which messenger) a story.
	{LureCode, roleHint, []string{
		// "by mistake" alone is everyday speech
		"versehentlich", "par erreur", "por error", "per errore", "por engano", "przez pomyłkę", "yanlışlıkla", "по ошибке", "помилково", "بالخطأ", "गलती से", "发错了", "不小心发", "誤って", "실수로", "accidentally sent", "sent to your number by mistake", "sent to you by mistake",
		"send me the code", "send it back", "forward the code", "forward me the code", "the 6 digit code", "6 digit code", "verification code", "whatsapp code", "sms code", "otp",
		"schick mir den code", "code weiterleiten", "stuur me de code", "envoie-moi le code", "envoie moi le code", "renvoie-moi le code", "envíame el código", "reenvíame el código", "mándame el código",
		"mandami il codice", "inviami il codice", "me manda o código", "me envia o código", "wyślij mi kod", "prześlij kod", "kodu bana gönder", "kodu gönder*",
		"пришли код", "отправь код", "перешли код", "продиктуй код", "надішли код", "أرسل لي الرمز", "ارسل لي الكود", "कोड भेज", "ओटीपी", "验证码发给我", "把验证码", "驗證碼", "验证码", "コードを送って", "인증번호",
		"kirim kodenya", "kode otp", "gửi mã", "mã otp", "trimite-mi codul",
	}},
	// Investment.
	{LureInvest, roleCore, []string{
		"guaranteed return", "guaranteed returns", "guaranteed profit", "double your money", "crypto investment", "bitcoin investment", "investment opportunity", "trading signals", "passive income",
		"garantierte rendite", "garantierter gewinn", "krypto investition", "gegarandeerd rendement",
		"rendement garanti", "profit garanti", "investissement crypto", "rentabilidad garantizada", "ganancias garantizadas", "inversión en cripto",
		"rendimento garantito", "profitto garantito", "retorno garantido", "lucro garantido", "gwarantowany zysk", "garantili kazanç", "garantili getiri",
		"гарантированный доход", "гарантированная прибыль", "инвестиции в крипт*", "гарантований дохід",
		"ربح مضمون", "عائد مضمون", "गारंटीड रिटर्न", "保证收益", "稳赚", "穩賺", "高回报", "確実に儲か", "수익 보장",
		"keuntungan dijamin", "lợi nhuận đảm bảo", "profit garantat",
	}},
	{LureWrongNumber, roleHint, []string{
		"is this", "is that you", "who is this", "wrong number", "we met", "do you remember me", "remember me", "long time no see", "it s", "this is", "from the",
		"bist du das", "ist das", "falsche nummer", "wir haben uns", "erinnerst du dich", "c est bien", "c est toi", "mauvais numéro", "on s est rencontré", "tu te souviens",
		"eres tú", "es usted", "número equivocado", "nos conocimos", "te acuerdas", "sei tu", "numero sbagliato", "ci siamo conosciuti", "ti ricordi",
		"é você", "número errado", "nos conhecemos", "lembra de mim", "czy to ty", "zły numer", "poznaliśmy się", "pamiętasz mnie", "sen misin", "yanlış numara",
		"это ты", "ошиблись номером", "не тот номер", "мы познакомились", "помнишь меня", "هل هذا", "رقم خطأ", "क्या ये", "गलत नंबर", "是你吗", "打错了", "还记得我吗",
	}},
	{LureInvest, roleHint, []string{"invest*", "crypto", "bitcoin", "btc", "usdt", "profit", "returns", "trading", "rendite", "rendement", "inversión", "investimento", "zysk", "yatırım", "инвест*", "прибыль", "استثمار", "निवेश", "投资", "投資"}},
}

// lureLex is the compiled lexicon.
var lureLex = func() (x struct {
	m     *Matcher
	cues  []lureCue
	start []bool // the phrase must start at a word boundary
	end   []bool // the phrase must end at one (false for stems)
}) {
	var pats []string
	for _, g := range lureLexicon {
		for _, p := range g.phrases {
			stem := strings.HasSuffix(p, "*")
			n := string(Normalize(nil, []byte(strings.TrimSuffix(p, "*"))))
			if n == "" {
				continue
			}
			first, _ := utf8.DecodeRuneInString(n)
			last, _ := utf8.DecodeLastRuneInString(n)
			pats = append(pats, n)
			x.cues = append(x.cues, lureCue{g.kind, g.role})
			// Scripts written with spaces between words get boundaries;
			// Chinese, Japanese, Thai, and the suffixes of Korean, Arabic
			// and Devanagari words do not.
			x.start = append(x.start, first < 0x0590)
			x.end = append(x.end, !stem && last < 0x0590)
		}
	}
	m, err := NewMatcher(pats)
	if err != nil {
		panic(err)
	}
	x.m = m
	return x
}()

// Lure is what LureScore found.
type Lure struct {
	Kind  LureKind
	Score int // 0: no lure structure; 2: a story with no request; 3: story and request; 4-5: the full scam shape
	// Parts is the structure found, for evidence (a constant string).
	Parts string
}

// LureScanMax is how much of a normalized text LureScore reads: the
// opening 2 KiB, more than six segments of Latin text or three of
// Cyrillic, Arabic or Chinese.
const LureScanMax = 2048

// LureScore scores the lure structure of a normalized text (Normalize)
// with its shape (ShapeOf of the raw text), reading its first LureScanMax
// bytes. It does not allocate.
//
// Family impersonation: an address to a relative ("hi mum", "papa", "it's
// me") together with a new number is 2; the story of the phone lost or
// broken besides them adds 1; a request for money or a favour adds 2, or
// else an answer on a messenger or a request to reply adds 1. "Hi Mum, my
// phone broke, this is my new number, text me on WhatsApp" is 4; "Hi Mum,
// new number, save it" is 3; "Mum, can you send me 20 euros" is 0 (no new
// number). Without the address, a new number is 2 with the lost-phone
// story (plus the request as above), 2 with a request for money or a
// favour (plus 2), and 2 with a way to answer and nothing more. An address
// and a lost phone without a new number score nothing.
//
// Other stories: a core phrase ("you have won", "your account will be
// closed", "no experience needed", "your tax refund", "code by mistake")
// or two different hints of the kind is 2; a way to answer (a callback
// number, a messenger, an address, or an answer asked as a business asks:
// "reply YES", "call us") adds 1, and asking for a code is one; an amount
// of money or urgency adds 1. The wrong-number opener is 2 at most.
func LureScore(norm []byte, sh Shape) Lure {
	// A lure is told in the opening of a text; a 64 KiB payload is not
	// read whole for one (the campaign counters see the whole text).
	if len(norm) > LureScanMax {
		norm = norm[:LureScanMax]
	}
	var roles [lureKinds]lureRole
	var hints [lureKinds]int
	var hintEnd [lureKinds]int // where the last hint ended: overlapping hints count once
	var hint1 [lureKinds]int   // the first hint counted (+1): a hint repeated counts once
	lureLex.m.Match(norm, false, func(i, start, end int) bool {
		if lureLex.start[i] && start > 0 {
			if r, _ := utf8.DecodeLastRune(norm[:start]); wordRune(r) {
				return true
			}
		}
		if lureLex.end[i] && end < len(norm) {
			if r, _ := utf8.DecodeRune(norm[end:]); wordRune(r) {
				return true
			}
		}
		c := lureLex.cues[i]
		roles[c.kind] |= c.role
		if c.role == roleHint {
			if start >= hintEnd[c.kind] && hint1[c.kind] != i+1 {
				hints[c.kind]++
				if hint1[c.kind] == 0 {
					hint1[c.kind] = i + 1
				}
			}
			hintEnd[c.kind] = max(hintEnd[c.kind], end)
		}
		return true
	})
	generic := roles[LureNone]
	// A story's request: a number, messenger or address to answer on, or
	// an answer asked as a business or a stranger asks ("reply YES",
	// "rufen Sie an"); "call me" is how friends talk.
	answer := generic&roleReply != 0 || sh.Phones+sh.Handoffs+sh.Emails > 0
	money := sh.Money > 0 || generic&roleAmount != 0 && bytes.ContainsAny(norm, "0123456789")
	best := Lure{}
	// Family impersonation.
	if fam := roles[LureFamily]; fam&(roleClaim|roleStory) != 0 {
		base := -1
		switch {
		case fam&roleOpener != 0 && fam&roleClaim != 0:
			base = 0
		case fam&roleClaim != 0 && fam&roleStory != 0:
			base = 1
		case fam&roleClaim != 0 && generic&(roleMoney|roleFavour) != 0:
			base = 2
		case fam&roleClaim != 0 && (sh.Handoffs > 0 || generic&(roleAnswer|roleReply) != 0):
			// "This is my new number, save it": 2, never a lure alone,
			// but a wave of it is (lure-wave rules).
			best = Lure{Kind: LureFamily, Score: 2, Parts: "new_number+answer"}
		}
		if base >= 0 {
			score, lost, req := 2, 0, 0
			if base == 0 && fam&roleStory != 0 {
				score, lost = score+1, 1
			}
			switch {
			case generic&(roleMoney|roleFavour) != 0:
				score, req = score+2, 1
			case sh.Handoffs > 0 || generic&(roleAnswer|roleReply) != 0:
				score, req = score+1, 2
			}
			best = Lure{Kind: LureFamily, Score: score, Parts: familyPartNames[base*6+lost*3+req]}
		}
	}
	for k := LurePrize; k < lureKinds; k++ {
		if roles[k]&roleCore == 0 && hints[k] < 2 {
			continue
		}
		score, p := 2, 0
		if k == LureWrongNumber {
			if best.Score < 2 {
				best = Lure{Kind: k, Score: 2, Parts: storyParts[0]}
			}
			continue
		}
		if answer || k == LureCode { // asking for the code is the request
			score++
			p |= 1
		}
		if money || generic&roleFavour != 0 || generic&roleMoney != 0 {
			score++
			p |= 2
		}
		if score > best.Score {
			best = Lure{Kind: k, Score: score, Parts: storyParts[p]}
		}
	}
	return best
}

var storyParts = [4]string{"story", "story+answer", "story+money_or_urgency", "story+answer+money_or_urgency"}

// familyPartNames[base*6+lost*3+req]: base opener+new_number,
// new_number+lost_phone, new_number+request; lost: the story of a lost
// phone; req: nothing, money or a favour, a way to answer.
var familyPartNames = func() []string {
	var out []string
	for _, a := range []string{"opener+new_number", "new_number+lost_phone", "new_number+request"} {
		for _, b := range []string{"", "+lost_phone"} {
			for _, c := range []string{"", "+money_or_favour", "+answer"} {
				out = append(out, a+b+c)
			}
		}
	}
	return out
}()

// wordRune: a letter or digit continues a word.
func wordRune(r rune) bool { return r >= '0' && r <= '9' || isLetterRune(r) }

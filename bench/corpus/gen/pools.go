package main

// The word pools the generator draws from. Where a pool has a held-out
// part, the tuning corpus never sees it: the held-out corpus uses the
// shared part and its own (other phrases, brands, domains, lures), so
// detectors tuned on the tuning corpus meet texts they were not tuned on.

// country is where a phone number comes from: its calling code, mobile
// prefixes and how many digits follow the prefix.
type country struct {
	code     string
	prefixes []string
	digits   int
}

var countries = map[string]country{
	"DE": {"49", []string{"151", "152", "157", "159", "160", "162", "163", "176", "177", "178", "179"}, 8},
	"FR": {"33", []string{"6", "7"}, 8},
	"ES": {"34", []string{"6"}, 8},
	"IT": {"39", []string{"320", "328", "333", "339", "347", "348", "349"}, 7},
	"PT": {"351", []string{"91", "92", "93", "96"}, 7},
	"TR": {"90", []string{"532", "533", "535", "542", "552"}, 7},
	"PL": {"48", []string{"50", "51", "53", "60", "66", "69", "72", "78", "79", "88"}, 7},
	"RU": {"7", []string{"903", "905", "915", "916", "925", "926"}, 7},
	"UA": {"380", []string{"50", "66", "67", "68", "93", "97"}, 7},
	"EG": {"20", []string{"10", "11", "12", "15"}, 8},
	"SA": {"966", []string{"50", "53", "55", "56"}, 7},
	"CN": {"86", []string{"138", "139", "150", "186", "188"}, 8},
	"IN": {"91", []string{"98", "99", "97", "70", "81", "88"}, 8},
	"BR": {"55", []string{"119", "219", "319"}, 8},
	"GB": {"44", []string{"74", "75", "77", "78", "79"}, 8},
	"NG": {"234", []string{"803", "806", "813", "816"}, 7},
	"VN": {"84", []string{"90", "91", "98", "97"}, 7},
}

// lang is a language with its senders' countries and chat material.
type lang struct {
	code      string
	countries []string
	// templates of chat messages: {name} {time} {place} {thing} {n} {day}
	templates []string
	names     []string
	places    []string
	things    []string
	days      []string
}

var langs = []lang{
	{code: "en", countries: []string{"GB", "DE", "NG", "IN"},
		templates: []string{
			"Hey {name}, are we still on for {time}?", "Running {n} min late, sorry!", "Can you grab {thing} on the way home?",
			"Just landed, see you at {place} around {time}", "Did you see what {name} posted lol", "Call me when you're free, it's about {day}",
			"Thanks for yesterday, {place} was great", "Don't forget {thing} for {name} tomorrow", "I'm at {place}, where are you?",
			"Can we move it to {day}? Something came up", "Kids are asleep finally. Wine at {time}?", "Happy anniversary {name}! Dinner at {place} {day}",
			"Parking is a nightmare, meet you at the entrance of {place}", "Lost my keys again, do you have the spare?", "Got the tickets for {day}! {n} of them",
			"How's your mum doing? Say hi from me", "Train cancelled, taking the bus, ETA {time}", "Can you send me {name}'s number?",
			"Match starts at {time}, coming over?", "Sorry I missed your call, in a meeting till {time}",
		},
		names:  []string{"Sam", "Alex", "Chris", "Priya", "Tom", "Kemi", "Jo", "Mike", "Lucy", "Raj", "Emma", "Dan", "Zoe", "Ben", "Amara"},
		places: []string{"the station", "Tesco", "the pub", "Nando's", "the gym", "mum's", "the park", "the office", "the airport", "the cinema"},
		things: []string{"milk", "bread", "the charger", "some beer", "nappies", "the cake", "eggs", "the parcel", "a birthday card", "pizza"},
		days:   []string{"tomorrow", "Friday", "the weekend", "Monday", "tonight", "next week", "Sunday"}},
	{code: "de", countries: []string{"DE", "DE", "DE"},
		templates: []string{
			"Hallo {name}, bleibt es bei {time}?", "Bin in {n} Minuten da", "Kannst du noch {thing} mitbringen?",
			"Bin schon am {place}, wo bist du?", "Schatz, vergiss {thing} nicht!", "Treffen wir uns {day} am {place}?",
			"Danke für gestern, war echt schön bei {name}", "Zug hat {n} Minuten Verspätung, sorry", "Ruf mich bitte an wenn du Zeit hast",
			"Können wir auf {day} verschieben?", "Hab die Karten für {day}, {n} Stück", "Wie geht's {name}? Gute Besserung!",
			"Essen ist fertig, kommst du?", "Ich hol dich um {time} am {place} ab", "Hast du den Schlüssel für den Keller?",
			"Spiel fängt um {time} an, kommst du rüber?", "Bin noch im Meeting bis {time}, melde mich danach",
			"Frühstück {day} bei {name}? Ich bringe Brötchen mit", "Müll muss heute noch raus!", "Paket für dich ist bei den Nachbarn",
		},
		names:  []string{"Jana", "Lukas", "Mama", "Papa", "Oma", "Tim", "Lena", "Jonas", "Sophie", "Max", "Anke", "Jürgen", "Özlem", "Björn"},
		places: []string{"Bahnhof", "Rewe", "Aldi", "Kino", "Café", "Marktplatz", "Büro", "Spielplatz", "Flughafen", "Edeka"},
		things: []string{"Milch", "Brot", "Butter", "Bier", "die Ladekabel", "Windeln", "Kuchen", "Eier", "Käse", "Brötchen"},
		days:   []string{"morgen", "Freitag", "Samstag", "Sonntag", "heute Abend", "nächste Woche", "übermorgen"}},
	{code: "fr", countries: []string{"FR", "FR", "DE"},
		templates: []string{
			"Salut {name}, toujours ok pour {time} ?", "J'arrive dans {n} minutes", "Tu peux prendre {thing} en rentrant ?",
			"Je suis à {place}, t'es où ?", "Merci pour hier soir, c'était génial chez {name}", "On se voit {day} ?",
			"Désolé, je suis en retard, le RER est bloqué", "Appelle-moi quand tu peux", "Bisous, à {day} !",
			"Tu as vu le message de {name} ?", "Le dîner est prêt, tu rentres à quelle heure ?", "Rendez-vous à {place} vers {time}",
			"J'ai oublié {thing}, tu peux le prendre ?", "Le match commence à {time}, tu viens ?", "Bon courage pour l'exam {day} !",
		},
		names:  []string{"Camille", "Léa", "Hugo", "Maman", "Chloé", "Théo", "Inès", "Lucas", "Manon", "Élodie", "Noé"},
		places: []string{"la gare", "Carrefour", "la boulangerie", "chez moi", "la fac", "le bureau", "la pharmacie", "le resto"},
		things: []string{"du pain", "du lait", "le chargeur", "des croissants", "du fromage", "les clés", "une baguette"},
		days:   []string{"demain", "vendredi", "samedi", "dimanche", "ce soir", "la semaine prochaine"}},
	{code: "es", countries: []string{"ES", "ES", "DE"},
		templates: []string{
			"Hola {name}, ¿seguimos a las {time}?", "Llego en {n} minutos", "¿Puedes comprar {thing} de camino?",
			"Estoy en {place}, ¿dónde estás?", "Gracias por lo de ayer, lo pasamos genial", "¿Nos vemos el {day}?",
			"Perdona, voy tarde, hay mucho tráfico", "Llámame cuando puedas", "Un beso, hasta el {day}",
			"La cena está lista, ¿vienes?", "¿Has visto lo que ha dicho {name}?", "Quedamos en {place} a las {time}",
			"Se me olvidó {thing}, ¿lo traes tú?", "El partido empieza a las {time}, ¿vienes?",
		},
		names:  []string{"Lucía", "Pablo", "Mamá", "Sofía", "Javi", "Carmen", "Diego", "Marta", "Íñigo", "Nuria"},
		places: []string{"la estación", "Mercadona", "el bar", "casa", "la oficina", "el gimnasio", "la plaza"},
		things: []string{"pan", "leche", "el cargador", "cervezas", "huevos", "la tarta", "jamón"},
		days:   []string{"mañana", "viernes", "sábado", "domingo", "esta noche", "la semana que viene"}},
	{code: "pt", countries: []string{"PT", "BR"},
		templates: []string{
			"Oi {name}, ainda combinado às {time}?", "Chego em {n} minutos", "Podes trazer {thing}?", "Estou no {place}, onde estás?",
			"Obrigado por ontem, foi ótimo", "Vamos nos ver {day}?", "Desculpa, estou atrasado, trânsito horrível", "Liga-me quando puderes",
			"O jantar está pronto, vens?", "Esqueci {thing}, trazes tu?",
		},
		names:  []string{"João", "Ana", "Mãe", "Pedro", "Beatriz", "Tiago", "Inês", "Rafael"},
		places: []string{"shopping", "café", "escritório", "ginásio", "mercado", "aeroporto"},
		things: []string{"pão", "leite", "o carregador", "cerveja", "ovos", "o bolo"},
		days:   []string{"amanhã", "sexta", "sábado", "domingo", "hoje à noite"}},
	{code: "tr", countries: []string{"TR", "DE", "DE"},
		templates: []string{
			"Selam {name}, saat {time} hâlâ geçerli mi?", "{n} dakikaya oradayım", "Gelirken {thing} alır mısın?",
			"{place} önündeyim, neredesin?", "Dün için teşekkürler, çok güzeldi", "{day} görüşelim mi?", "Beni müsait olunca ara",
			"Yemek hazır, geliyor musun?", "Anneme selam söyle", "Maç {time} başlıyor, geliyor musun?", "Özür dilerim, geç kalıyorum, trafik çok yoğun",
		},
		names:  []string{"Ayşe", "Mehmet", "Anne", "Baba", "Zeynep", "Emre", "Elif", "Can", "Gül"},
		places: []string{"istasyon", "market", "kafe", "ofis", "cami", "park", "havalimanı"},
		things: []string{"ekmek", "süt", "şarj aleti", "çay", "peynir", "simit"},
		days:   []string{"yarın", "cuma", "cumartesi", "pazar", "bu akşam"}},
	{code: "pl", countries: []string{"PL", "DE"},
		templates: []string{
			"Cześć {name}, aktualne na {time}?", "Będę za {n} minut", "Kupisz {thing} po drodze?", "Jestem na {place}, gdzie jesteś?",
			"Dzięki za wczoraj, było super", "Widzimy się {day}?", "Zadzwoń jak będziesz mógł", "Obiad gotowy, wracasz?",
			"Przepraszam, spóźnię się, korki", "Pozdrów mamę ode mnie",
		},
		names:  []string{"Kasia", "Tomek", "Mama", "Ania", "Paweł", "Łukasz", "Gosia", "Michał"},
		places: []string{"dworcu", "Biedronce", "rynku", "siłowni", "lotnisku"},
		things: []string{"chleb", "mleko", "ładowarkę", "piwo", "jajka", "masło"},
		days:   []string{"jutro", "w piątek", "w sobotę", "w niedzielę", "dziś wieczorem"}},
	{code: "ru", countries: []string{"RU", "UA", "DE"},
		templates: []string{
			"Привет, {name}! В {time} в силе?", "Буду через {n} минут", "Купи, пожалуйста, {thing} по дороге", "Я у {place}, ты где?",
			"Спасибо за вчера, было здорово", "Увидимся {day}?", "Перезвони, когда сможешь", "Ужин готов, ты скоро?",
			"Извини, опаздываю, пробки", "Передай маме привет", "Матч в {time}, придёшь?", "Забыл {thing}, возьмёшь?",
		},
		names:  []string{"Саша", "Маша", "мама", "Дима", "Оля", "Катя", "Сергей", "Наташа", "Андрей"},
		places: []string{"вокзала", "метро", "магазина", "работы", "школы", "аэропорта"},
		things: []string{"хлеб", "молоко", "зарядку", "сыр", "яйца", "торт"},
		days:   []string{"завтра", "в пятницу", "в субботу", "в воскресенье", "вечером"}},
	{code: "ar", countries: []string{"EG", "SA", "DE"},
		templates: []string{
			"مرحبا {name}، هل موعدنا الساعة {time} ما زال قائما؟", "سأصل بعد {n} دقائق", "ممكن تشتري {thing} في طريقك؟",
			"أنا في {place}، أين أنت؟", "شكرا على الأمس، كان رائعا", "نلتقي {day}؟", "اتصل بي عندما تكون متفرغا",
			"العشاء جاهز، هل ستأتي؟", "آسف، سأتأخر قليلا بسبب الزحمة", "سلم لي على الوالدة",
		},
		names:  []string{"أحمد", "فاطمة", "محمد", "سارة", "يوسف", "مريم", "عمر", "نور"},
		places: []string{"المحطة", "السوق", "المسجد", "المكتب", "المطار", "الكافيه"},
		things: []string{"خبز", "حليب", "الشاحن", "قهوة", "تمر"},
		days:   []string{"غدا", "يوم الجمعة", "يوم السبت", "الليلة", "الأسبوع القادم"}},
	{code: "zh", countries: []string{"CN", "DE"},
		templates: []string{
			"{name}，我们{time}见面还算数吗？", "我{n}分钟后到", "回来的时候帮我买点{thing}", "我在{place}，你在哪儿？",
			"谢谢昨天的招待，玩得很开心", "{day}见？", "有空给我回个电话", "饭做好了，你什么时候回来？", "不好意思，堵车了，晚点到", "替我向阿姨问好",
		},
		names:  []string{"小王", "老李", "妈妈", "小张", "阿明", "小红", "伟伟"},
		places: []string{"火车站", "超市", "公司", "学校", "机场", "地铁站"},
		things: []string{"牛奶", "面包", "水果", "充电器", "鸡蛋"},
		days:   []string{"明天", "周五", "周六", "周日", "今晚"}},
	{code: "hi", countries: []string{"IN", "DE"},
		templates: []string{
			"नमस्ते {name}, क्या {time} बजे का प्लान पक्का है?", "मैं {n} मिनट में पहुँच रहा हूँ", "आते समय {thing} ले आना",
			"मैं {place} पर हूँ, तुम कहाँ हो?", "कल के लिए धन्यवाद, बहुत मज़ा आया", "{day} मिलते हैं?", "फ्री हो तो फ़ोन करना",
			"खाना तैयार है, कब आ रहे हो?", "माफ़ करना, ट्रैफ़िक की वजह से देर हो रही है",
		},
		names:  []string{"राहुल", "प्रिया", "माँ", "अमित", "नेहा", "विकास", "पूजा"},
		places: []string{"स्टेशन", "मार्केट", "ऑफिस", "मंदिर", "एयरपोर्ट"},
		things: []string{"दूध", "ब्रेड", "चार्जर", "सब्ज़ी", "मिठाई"},
		days:   []string{"कल", "शुक्रवार को", "शनिवार को", "रविवार को", "आज रात"}},
}

// emojis decorate a share of chat messages (and turn them into UCS-2).
var emojis = []string{"😂", "❤️", "👍", "🙏", "😘", "🎉", "😊", "🤣", "😅", "🥳", "😍", "🔥"}

// Common phrases: short texts that many different people send every day.
// Each is sent by many senders within minutes: on a large network that is
// what these look like, and no campaign is behind them.
var commonShared = []string{
	"On my way", "on my way!", "OK", "Ok 👍", "Happy birthday!", "Happy birthday 🎂🎉", "Call me", "Call me back please",
	"Where are you?", "Love you", "Thank you!", "Thanks", "Yes", "No", "See you soon", "Good night", "Good morning ❤️",
	"I'm outside", "Running late", "Meeting moved to 3pm",
	"Bin unterwegs", "Alles Gute zum Geburtstag!", "Ruf mich an", "Bin gleich da", "Gute Nacht", "Danke!", "Ich liebe dich",
	"J'arrive", "Joyeux anniversaire !", "Bisous", "Ya voy", "Feliz cumpleaños!", "Te quiero", "Geliyorum", "İyi ki doğdun!",
	"Я еду", "С днём рождения!", "Перезвони", "أنا في الطريق", "كل عام وأنت بخير", "马上到", "生日快乐！", "रास्ते में हूँ",
	"जन्मदिन मुबारक हो!",
}

var commonTuning = []string{"Meeting moved to 3pm, same room", "Dinner's ready", "Sto arrivando", "Já vou", "Już jadę"}
var commonHeldout = []string{"Meeting moved to 4pm", "Running 10 min late", "Buon compleanno!", "Parabéns!", "Wszystkiego najlepszego!",
	"Bin gleich unten", "On est en bas", "ok, on my way", "Доброе утро ☀️", "到家了"}

// New Year greetings: near-identical texts from thousands of people within
// minutes of midnight.
var newYearShared = []string{
	"Happy New Year!", "Happy New Year! 🎉", "Happy New Year 🥂✨", "Happy new year to you and your family!",
	"Frohes neues Jahr!", "Frohes Neues! 🎆", "Ein frohes neues Jahr euch allen!", "Prost Neujahr! 🥂",
	"Bonne année !", "Bonne année et bonne santé !", "¡Feliz Año Nuevo!", "Feliz año nuevo 🎉",
	"С Новым годом!", "С Новым годом! Счастья и здоровья!", "Yeni yılın kutlu olsun!", "Mutlu yıllar! 🎉",
	"Szczęśliwego Nowego Roku!", "新年快乐！", "新年快乐，万事如意！", "नया साल मुबारक हो!", "كل عام وأنتم بخير", "Feliz Ano Novo!",
}
var newYearTuning = []string{"HNY!! 🎆🎆", "Gutes neues Jahr!", "Buon anno!"}
var newYearHeldout = []string{"Happy 2027! 🥳", "Alles Gute fürs neue Jahr!", "Felice anno nuovo!", "Щасливого Нового року!", "Godt nytt år!"}

// Group chats: one sender's text to every member of a group.
var groupShared = []string{
	"Who's bringing what on Saturday? I'll do the salad", "Training cancelled tonight, pitch is frozen",
	"Reminder: parents' evening Thursday 6pm", "Dinner at 8 at Luigi's, table booked for {n}",
	"Grillen am Sonntag bei uns! Jeder bringt was mit", "Elternabend ist am Dienstag um 19 Uhr", "Probe fällt heute aus!",
	"Le foot est annulé ce soir", "Quedamos todos en la plaza a las {time}", "Сбор в {time} у подъезда",
	"Hochzeitsfotos sind online, Passwort bekommt ihr von Jana", "Bus leaves at {time} sharp, don't be late!",
}
var groupTuning = []string{"Book club moved to Wednesday", "Kita ist morgen geschlossen (Streik)"}
var groupHeldout = []string{"Choir practice at 7, bring the new sheets", "Stammtisch heute 20 Uhr im Adler", "Cumpleaños de Ana: el sábado a las {time}"}

// brand sends A2P traffic through registered aggregators.
type brand struct {
	sender string // alphanumeric sender ID (or short code)
	name   string // as written in texts
	domain string // its own domain
	peer   string // the aggregator registered for it
	kind   string // parcel, shop, bank, ride, travel, tech: which notifications it sends
}

var brandsShared = []brand{
	{"PayPal", "PayPal", "paypal.com", "paypal-gw", "bank"},
	{"ExampleBank", "ExampleBank", "example-bank.com", "bank-gw", "bank"},
	{"DHL", "DHL", "dhl.com", "dhl-gw", "parcel"},
	{"Amazon", "Amazon", "amazon.de", "agg-alpha", "shop"},
	{"Google", "Google", "google.com", "agg-alpha", "tech"},
	{"WhatsApp", "WhatsApp", "whatsapp.com", "agg-alpha", "tech"},
	{"Uber", "Uber", "uber.com", "agg-beta", "ride"},
	{"Sparkasse", "Sparkasse", "sparkasse.de", "bank-gw", "bank"},
	{"Zalando", "Zalando", "zalando.de", "agg-beta", "shop"},
	{"Lieferando", "Lieferando", "lieferando.de", "agg-beta", "ride"},
	{"DB Bahn", "Deutsche Bahn", "bahn.de", "agg-gamma", "travel"},
	{"Telegram", "Telegram", "telegram.org", "agg-gamma", "tech"},
	{"Microsoft", "Microsoft", "microsoft.com", "agg-alpha", "tech"},
	{"N26", "N26", "n26.com", "agg-gamma", "bank"},
}
var brandsTuning = []brand{
	{"Hermes", "Hermes", "myhermes.de", "agg-beta", "parcel"},
	{"Netflix", "Netflix", "netflix.com", "agg-alpha", "tech"},
	{"Booking", "Booking.com", "booking.com", "agg-gamma", "travel"},
	{"Vinted", "Vinted", "vinted.de", "agg-beta", "shop"},
	{"Binance", "Binance", "binance.com", "agg-gamma", "bank"},
}
var brandsHeldout = []brand{
	{"DPD", "DPD", "dpd.de", "agg-beta", "parcel"},
	{"Apple", "Apple", "apple.com", "agg-alpha", "tech"},
	{"Airbnb", "Airbnb", "airbnb.com", "agg-gamma", "travel"},
	{"eBay", "eBay", "ebay.de", "agg-beta", "shop"},
	{"Revolut", "Revolut", "revolut.com", "agg-gamma", "bank"},
	{"TikTok", "TikTok", "tiktok.com", "agg-alpha", "tech"},
}

// otpTemplates: {brand} {code}; the language of the recipient.
var otpTemplates = []string{
	"{code} is your {brand} verification code. Don't share it with anyone.",
	"Your {brand} code is {code}. It expires in 10 minutes.",
	"{brand}: Ihr Bestätigungscode lautet {code}. Geben Sie ihn niemals weiter.",
	"Dein {brand}-Code: {code}",
	"{brand} : votre code de vérification est {code}",
	"Tu código de {brand} es {code}. No lo compartas.",
	"Ваш код {brand}: {code}. Никому его не сообщайте.",
	"رمز التحقق الخاص بك في {brand} هو {code}",
	"【{brand}】验证码：{code}，5分钟内有效，请勿泄露。",
	"{brand} OTP {code} है। इसे किसी के साथ साझा न करें।",
	"<#> {brand}: {code} is your code. FA+9qCX9VSu",
	"G-{code} is your Google verification code.",
}

// notifyTemplates by brand kind: {brand} {domain} {id} {time} {amount} {n} {day}.
var notifyTemplates = map[string][]string{
	"parcel": {
		"{brand}: Your parcel {id} will be delivered today between {time}. Track: https://www.{domain}/track/{id}",
		"{brand}: Ihre Sendung {id} kommt heute zwischen {time}. Verfolgen: https://{domain}/s/{id}",
		"{brand}: Votre colis {id} est en cours de livraison.",
		"{brand}: Ihr Paket {id} liegt in der Packstation zur Abholung bereit.",
	},
	"shop": {
		"Your {brand} order {id} has shipped and will arrive {day}.",
		"{brand}: Ihre Bestellung {id} ist unterwegs. Voraussichtliche Lieferung: {day}.",
		"{brand}: Su pedido {id} ha sido enviado.",
		"{brand}: Ваш заказ {id} доставлен в пункт выдачи.",
	},
	"bank": {
		"{brand}: Card ending {n} was used for EUR {amount} at REWE. Not you? Call the number on your card.",
		"{brand}: Ihr Kontostand ist unter EUR {amount} gefallen.",
		"{brand}: Sie haben EUR {amount} erhalten.",
		"{brand}: New sign-in to your account from Chrome on Windows. If this wasn't you, secure your account in the app.",
	},
	"ride": {
		"{brand}: Your driver is arriving in {n} minutes. Look for a grey Skoda.",
		"{brand}: Dein Essen ist unterwegs und kommt in ca. {n} Minuten.",
	},
	"travel": {
		"{brand}: Your booking {id} is confirmed. Check-in from 15:00. Details: https://{domain}/b/{id}",
		"{brand}: Ihr Zug hat {n} Minuten Verspätung. Anschlüsse: https://www.{domain}/info",
	},
	"tech": {
		"{brand}: New sign-in to your account from Chrome on Windows. If this wasn't you, secure your account in the app.",
		"{brand}: Your subscription renews on {day}.",
	},
}

// Small businesses: unregistered alphanumeric senders through the
// aggregators (reminders, confirmations).
var smallBizShared = []string{"DrMueller", "PraxisBerg", "SalonBella", "AutohausK", "Zahnarzt", "PizzaNapoli", "Stadtwerke", "FitnessOne",
	"Tierarzt24", "Kita Sonne", "HotelAdler", "Bürgeramt"}
var smallBizTuning = []string{"PhysioPlus", "Optik Lang"}
var smallBizHeldout = []string{"Friseur Eva", "KfzMeister", "Apotheke"}

var reminderTemplates = []string{
	"{sender}: Reminder of your appointment {day} at {time}. Reply C to cancel.",
	"{sender}: Erinnerung an Ihren Termin {day} um {time}. Absagen bitte telefonisch.",
	"{sender}: Ihr Fahrzeug ist fertig und kann abgeholt werden.",
	"{sender}: Ihre Bestellung ist abholbereit.",
	"{sender}: Votre rendez-vous est confirmé pour {day} à {time}.",
}

// Marketing with opt-out, from registered senders (some say "win", "free").
var marketingTemplates = []string{
	"{brand}: 20% off everything this weekend! Shop now: https://{domain}/sale Reply STOP to opt out",
	"{brand}: Nur heute: kostenloser Versand ab 20 EUR! https://{domain} Abmelden: STOP an {sc}",
	"{brand}: Your exclusive offer is waiting. Free delivery on your next order. Txt STOP to {sc} to unsubscribe",
	"{brand}: Congratulations, you have won a 10% voucher for your next order! Code WIN10. STOP to {sc}",
	"{brand}: Black Friday starts now. Up to 50% off. STOP={sc}",
	"{brand}: -30% sur tout le site ce week-end ! STOP au {sc}",
	"{brand}: Neue Kollektion ist da. Jetzt entdecken. Abmelden mit STOP an {sc}",
}

// Short codes of the operator, and who receives their MO.
var (
	scTV      = "8844"  // TV vote (peer tv-votes)
	scPromo   = "55155" // radio keyword campaign (agg-alpha)
	scMarket  = "72524" // marketing replies and opt-outs (agg-alpha)
	scService = "33333" // appointment replies (agg-gamma)
)

var voteTexts = []string{"VOTE 3", "3", "vote 3", "Vote three", "VOTE 1", "1", "VOTE 5", "5", "Vote 5", "JA", "VOTE 3 ", "vote3"}
var keywordTexts = []string{"PIZZA", "pizza", "Pizza", "PIZZA!", "pizza please", "PIZZA 🍕"}
var stopTexts = []string{"STOP", "STOP", "STOP", "Stop", "stop", "STOP ALL", "STOPP", "Stop.", "stop please", "ABMELDEN", "abmelden",
	"ARRET", "STOP 72524", "Unsubscribe", "Stop!", "BAJA"}
var replyTexts = []string{"YES", "Y", "Yes", "C", "1", "Ja", "ok", "OK thanks", "JA", "NEIN", "Bestätigt", "2"}

// Fraud material.

// Lures without links: call-back and reply scams, multilingual.
var luresNoLinkShared = []string{
	"Hi Mum, my phone broke, this is my new number. Can you text me on WhatsApp? {phone}",
	"Hallo Mama, mein Handy ist kaputt. Das ist meine neue Nummer, schreib mir bitte auf WhatsApp",
	"Hello, I'm Anna from a recruitment agency. Earn {amount} EUR a day from home, reply YES for details",
	"Job offer: part-time, {amount} EUR/day, no experience needed. WhatsApp {phone}",
	"Your package could not be delivered. Call {phone} to reschedule.",
	"URGENT: your account will be closed today. Call {phone} now.",
	"Bonjour, suite à votre candidature, gagnez {amount} EUR par jour. Répondez OUI",
	"Здравствуйте! Удалённая работа, доход от {amount} евро в день. Пишите в WhatsApp {phone}",
	"You have a pending tax refund of EUR {amount}. Reply with your full name and IBAN.",
}
var luresNoLinkTuning = []string{"Congratulations! You are selected for a cash prize of EUR {amount}. Call {phone}",
	// Family impersonation in other words and languages, asking for money.
	"Hola mamá, se me rompió el móvil, este es mi número nuevo. ¿Me puedes hacer una transferencia? Es urgente",
	"Coucou papa, c'est moi, j'ai changé de numéro. Tu peux m'écrire sur WhatsApp ?",
	// WhatsApp account theft: the code "sent by mistake".
	"Hi, I accidentally sent my WhatsApp code to your number. Can you send it back to me please?",
	// Task scams moving to a messenger; investment.
	"Hallo! Wir suchen Mitarbeiter für einfache Online-Aufgaben, {amount} € am Tag. Schreiben Sie uns auf Telegram {phone}",
	"Guaranteed profit of 30% per week with Bitcoin trading. Contact our advisor on Telegram {phone}",
	// The wrong-number opener of romance and investment scams: nothing in
	// the text tells it from a person; only the wave does.
	"Hi, is this Jessica? It's Lisa from the yoga class, are we still on for tea tomorrow?",
}
var luresNoLinkHeldout = []string{"Papa, ich habe eine neue Nummer. Kannst du mir kurz schreiben?",
	"Investment opportunity: 12% monthly returns guaranteed. Call {phone}", "Hola mamá, se me rompió el móvil, escríbeme a este número"}

// Lures with links; {url} is a fresh domain.
var luresLinkShared = []string{
	"Your parcel is on hold due to unpaid customs fee (EUR 1.99). Pay here: {url}",
	"Ihr Paket wartet. Bestätigen Sie die Zustellung: {url}",
	"Your account has been limited. Verify now: {url}",
	"Ihr Konto wurde eingeschränkt. Jetzt bestätigen: {url}",
	"You have an unpaid toll of EUR 6.90. Pay within 24h to avoid a fine: {url}",
	"Votre colis est en attente. Confirmez la livraison: {url}",
	"Su paquete está retenido. Pague la tasa aquí: {url}",
	"Hot singles near you 😍 {url}",
	"Win an iPhone 17! Claim here: {url}",
}
var luresLinkTuning = []string{"Netflix: your payment failed. Update your details: {url}", "Sparkasse: pushTAN-Verfahren läuft ab. Jetzt aktualisieren: {url}"}
var luresLinkHeldout = []string{"Apple ID locked. Unlock: {url}", "DPD: Ihre Zustellung ist fehlgeschlagen. Neuer Termin: {url}",
	"Ваш аккаунт заблокирован. Подтвердите данные: {url}", "Your electricity will be cut off tonight. Pay now: {url}"}

// Fresh domains: names a fraudster registers the week before.
var domainWordsShared = []string{"parcel", "redelivery", "secure", "verify", "account", "zustellung", "paket", "konto", "refund",
	"toll", "customs", "login", "update", "support"}
var domainWordsTuning = []string{"sendung", "post", "billing"}
var domainWordsHeldout = []string{"livraison", "myid", "wallet", "fee", "unlock"}
var tldsShared = []string{"top", "xyz", "info", "online", "site", "click", "live", "shop"}
var tldsTuning = []string{"icu", "buzz"}
var tldsHeldout = []string{"cfd", "sbs", "rest"}

// Lookalike sender IDs of protected brands.
var lookalikesTuning = []string{"PAYPA1", "PayPaI", "Amaz0n", "Sparkase", "DHL-Info", "DHLExpress", "N26Bank", "Netfl1x", "Zaland0", "Goog1e"}
var lookalikesHeldout = []string{"PayPall", "Amazom", "Sparkasse1", "DHL24", "Micros0ft", "App1e", "Revo1ut", "WhatsAp", "Ubber", "DPD-Info"}

// Generic sender IDs fraud uses on unregistered peers.
var genericSenders = []string{"INFO", "Service", "PAKET", "Kundenserv", "Alert", "Security", "Notice", "Zoll"}

package classify

import (
	"sync"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// Business texts are recognised from their words on first sight, before any
// counter has seen them: one-time codes (a 4-8 digit code beside a code
// word), marketing (an opt-out footer) and notifications (two notice words
// beside a number or link). The words are matched as whole words on the
// normalized text (case, diacritics, confusables folded), in the languages
// below; each list is a seed an operator extends with extra_business_words.
// A2P traffic that carries none of them is still caught by its sender
// (alphanumeric, short code), its volume (sender_velocity) or its spread
// (fanout_recipients with a link).

// Kinds of business text (det.business_text).
const (
	BusinessOTP          = "otp"
	BusinessMarketing    = "marketing"
	BusinessNotification = "notification"
)

var otpWords = []string{
	// en
	"code", "codes", "otp", "pin", "passcode", "password", "verification", "verify", "one time", "one-time",
	"security code", "login code", "authentication", "2fa", "tac",
	// de nl
	"tan", "bestatigungscode", "sicherheitscode", "einmalcode", "einmalpasswort", "passwort", "kennwort",
	"verificatiecode", "wachtwoord", "inlogcode",
	// fr es pt it
	"mot de passe", "code de verification", "code de confirmation", "codigo", "clave", "contrasena",
	"verificacion", "senha", "verificacao", "codice", "verifica",
	// pl tr sv da no fi
	"kod", "kodu", "kodunuz", "haslo", "weryfikacyjny", "dogrulama", "sifre", "sifreniz", "engangskode",
	"engangskod", "verifieringskod", "vahvistuskoodi", "koodi",
	// ru uk
	"код", "кодом", "пароль", "подтверждения", "подтвердження",
	// ar fa hi
	"رمز", "التحقق", "كود", "کد", "تایید", "कोड", "ओटीपी", "सत्यापन",
	// zh ja ko vi id th
	"验证码", "驗證碼", "校验码", "动态码", "認証コード", "確認コード", "認証番号", "인증번호", "인증",
	"ma xac nhan", "ma xac thuc", "kode", "kode verifikasi", "kata sandi", "รหัส",
}

var optOutWords = []string{
	"reply stop", "text stop", "txt stop", "send stop", "sms stop", "stop to", "stop2", "stop to opt out",
	"unsubscribe", "opt out", "opt-out", "optout", "to opt out",
	"abmelden", "abbestellen", "abmeldung", "stop an", "afmelden",
	"stop au", "desabonner", "desinscrire", "desinscription", "stop al", "darse de baja", "cancelar suscripcion",
	"responda stop", "envie stop", "descadastrar", "disiscriviti", "cancellazione", "rezygnacja", "wypisz",
	"iptal icin", "ret yaz", "отписаться", "отписка", "отказаться от рассылки", "الغاء الاشتراك", "إلغاء الاشتراك",
	"अनसब्सक्राइब", "退订", "回复td", "回td退订", "配信停止", "수신거부", "berhenti", "ketik stop", "huy dang ky",
}

var noticeWords = []string{
	// en
	"order", "parcel", "package", "delivery", "delivered", "shipment", "shipped", "tracking", "appointment",
	"booking", "reservation", "account", "balance", "payment", "transaction", "invoice", "statement",
	"card ending", "debited", "credited", "withdrawal", "deposit", "flight", "boarding", "ticket", "policy",
	"reminder", "due date", "expires", "subscription", "customer", "dear customer", "valued customer",
	// de
	"bestellung", "paket", "sendung", "zustellung", "termin", "konto", "kontostand", "zahlung", "rechnung",
	"abbuchung", "kunde", "kundin", "lieferung", "vertrag",
	// fr es pt it nl
	"commande", "colis", "livraison", "rendez-vous", "compte", "solde", "paiement", "facture", "client",
	"pedido", "paquete", "envio", "entrega", "cita", "cuenta", "saldo", "pago", "factura", "cliente",
	"encomenda", "consulta", "conta", "pagamento", "fatura", "ordine", "pacco", "spedizione", "consegna",
	"appuntamento", "conto", "fattura", "bestelling", "pakket", "bezorging", "afspraak", "rekening", "betaling",
	// pl tr
	"zamowienie", "przesylka", "dostawa", "platnosc", "faktura", "siparis", "kargo", "teslimat", "randevu",
	"hesap", "bakiye", "odeme", "fatura",
	// ru ar hi
	"заказ", "посылка", "доставка", "счет", "баланс", "платеж", "списание", "зачисление", "клиент",
	"طلبك", "شحنة", "رصيد", "حساب", "دفع", "عميل", "खाता", "भुगतान", "शेष", "ऑर्डर", "ग्राहक",
	// zh ja ko id vi
	"订单", "包裹", "快递", "余额", "账户", "支付", "交易", "尊敬的", "注文", "配送", "荷物", "残高",
	"支払", "お客様", "주문", "배송", "잔액", "결제", "고객님", "pesanan", "paket anda", "saldo anda",
	"don hang", "tai khoan", "so du",
}

// lexicon is the three word lists, normalized and compiled once.
type lexicon struct {
	otp, optOut, notice *textscan.Matcher
}

var (
	builtinOnce sync.Once
	builtin     *lexicon
)

func builtinLexicon() *lexicon {
	builtinOnce.Do(func() {
		var err error
		builtin, err = newLexicon(nil)
		if err != nil {
			panic("classify: built-in word lists: " + err.Error())
		}
	})
	return builtin
}

// newLexicon compiles the built-in lists plus extra notice words.
func newLexicon(extra []string) (*lexicon, error) {
	compile := func(words ...[]string) (*textscan.Matcher, error) {
		var norm []string
		for _, l := range words {
			for _, w := range l {
				if n := textscan.Normalize(nil, []byte(w)); len(n) > 0 {
					norm = append(norm, string(n))
				}
			}
		}
		return textscan.NewMatcher(norm)
	}
	var l lexicon
	var err error
	if l.otp, err = compile(otpWords); err != nil {
		return nil, err
	}
	if l.optOut, err = compile(optOutWords); err != nil {
		return nil, err
	}
	if l.notice, err = compile(noticeWords, extra); err != nil {
		return nil, err
	}
	return &l, nil
}

// kind returns the business kind of f's text, or "".
func (l *lexicon) kind(f *filter.Facts) string {
	norm := unsafex.Bytes(f.Norm) // f.NormStarts are its word starts
	if len(norm) == 0 {
		return ""
	}
	if f.Codes > 0 {
		if i, _, _ := l.otp.FirstWholeFrom(norm, f.NormStarts); i >= 0 {
			return BusinessOTP
		}
	}
	if i, _, _ := l.optOut.FirstWholeFrom(norm, f.NormStarts); i >= 0 {
		return BusinessMarketing
	}
	if f.Codes+f.Phones+f.URLCount > 0 {
		first, distinct := -1, 0
		l.notice.Match(norm, true, func(index, _, _ int) bool {
			if index != first {
				if first < 0 {
					first = index
				}
				distinct++
			}
			return distinct < 2
		})
		if distinct >= 2 {
			return BusinessNotification
		}
	}
	return ""
}

package textscan

import (
	"strings"
	"testing"
)

func lureOf(text string) Lure {
	return LureScore(Normalize(nil, []byte(text)), ShapeOf([]byte(text)))
}

// Scam texts of the common kinds, in many languages, reach the full
// structure (4+) or story with a request (3); everyday texts that share a
// word or two with them stay below 3, and a genuine "new number" note from
// a relative lands in the middle band (3: held or flagged, never refused
// by the shipped rules).
func TestLureScore(t *testing.T) {
	cases := []struct {
		text     string
		kind     LureKind
		min, max int
	}{
		// Family impersonation.
		{"Hi Mum, my phone broke, this is my new number. Can you text me on WhatsApp?", LureFamily, 4, 5},
		{"Hi mum it's me, new number. Can you do me a favour? I need to pay a bill today", LureFamily, 4, 5},
		{"Hallo Mama, mein Handy ist kaputt. Das ist meine neue Nummer, kannst du mir Geld überweisen?", LureFamily, 4, 5},
		{"Coucou maman, c'est moi, j'ai un nouveau numéro. Tu peux me rendre un service ? C'est urgent", LureFamily, 4, 5},
		{"Hola mamá, este es mi nuevo número, se me rompió el móvil. ¿Me puedes hacer un favor?", LureFamily, 4, 5},
		{"Ciao mamma, questo è il mio nuovo numero. Mi fai un favore? Devo pagare una bolletta urgente", LureFamily, 4, 5},
		{"Oi mãe, esse é meu número novo. Pode me fazer um favor? Preciso pagar um boleto", LureFamily, 4, 5},
		{"Cześć mamo, to mój nowy numer, telefon się zepsuł. Napisz do mnie na WhatsApp", LureFamily, 4, 5},
		{"Merhaba anne, bu benim yeni numaram. Telefonum bozuldu, acil bir iyilik yapar mısın?", LureFamily, 4, 5},
		{"Привет мам, это мой новый номер, телефон сломался. Можешь перевести деньги? Срочно", LureFamily, 4, 5},
		{"مرحبا ماما هذا رقمي الجديد، هاتفي تعطل. أحتاج مال ضروري", LureFamily, 4, 5},
		{"妈，这是我的新号码，手机坏了。能帮我转账吗？很急", LureFamily, 4, 5},
		{"माँ, ये मेरा नया नंबर है, फोन खराब हो गया। पैसे भेज दो, ज़रूरी है", LureFamily, 4, 5},
		{"Hoi mam, dit is mijn nieuwe nummer. Kun je me een plezier doen en een rekening betalen?", LureFamily, 4, 5},
		{"Papa, ich habe eine neue Nummer. Schreib mir kurz", LureFamily, 3, 3},
		{"Hallo Mama, das ist meine neue Nummer. Schreib mir bitte auf WhatsApp", LureFamily, 3, 3},
		{"Hey Dad, it's me, new number. Can you message me on WhatsApp?", LureFamily, 3, 3},
		{"Mum, new number. Can you pay a bill for me, I'll pay you back tomorrow", LureFamily, 4, 4},
		{"Oi pai, mudei de número. Me chama no WhatsApp", LureFamily, 3, 3},
		{"Anne, bu benim yeni numaram, bana WhatsApp'tan yaz", LureFamily, 3, 3},
		{"Anne, yeni numaram bu. Acil para lazım, havale yapabilir misin?", LureFamily, 4, 5},
		{"Мама, привет, это я, у меня новый номер. Напиши мне в WhatsApp", LureFamily, 3, 3},
		{"مرحبا ماما، هذا رقمي الجديد، راسليني على واتساب", LureFamily, 3, 3},
		{"माँ, ये मेरा नया नंबर है, व्हाट्सएप पर मैसेज करो", LureFamily, 3, 3},
		{"妈，我换号了，这是我的新号码，加我微信", LureFamily, 3, 3},
		{"Hola mamá, este es mi número nuevo, escríbeme por WhatsApp", LureFamily, 3, 3},
		{"Salut maman, c'est mon nouveau numéro, écris-moi sur WhatsApp", LureFamily, 3, 3},
		{"Cześć mamo, to mój nowy numer, napisz do mnie na WhatsApp", LureFamily, 3, 3},
		{"Ciao papà, ho un nuovo numero, scrivimi su WhatsApp", LureFamily, 3, 3},
		// Other stories.
		{"Congratulations! You are selected for a cash prize of EUR 500. Call +447700900123", LurePrize, 4, 4},
		{"URGENT: your account will be closed today. Call +447700900123 now.", LureAccount, 4, 4},
		{"Hello, I'm Anna from a recruitment agency. Earn 300 EUR a day from home, reply YES for details", LureJob, 4, 4},
		{"Здравствуйте! Удалённая работа, доход от 200 евро в день. Пишите в WhatsApp +447700900123", LureJob, 4, 4},
		{"Nebenjob von zu Hause: 250 € pro Tag, ohne Erfahrung. Schreib uns auf WhatsApp", LureJob, 4, 4},
		{"兼职日赚500元，在家工作，加我微信", LureJob, 4, 4},
		{"Your package could not be delivered. Call +447700900123 to reschedule.", LureParcel, 3, 4},
		{"You have a pending tax refund of EUR 250. Reply with your full name and IBAN.", LureRefund, 4, 4},
		{"Sorry, I sent you a code by mistake, can you send me the code? It's urgent", LureCode, 4, 4},
		{"Привет, тебе пришёл код по ошибке, пришли код пожалуйста", LureCode, 3, 4},
		{"Guaranteed returns of 20% a week with our crypto investment. WhatsApp +447700900123", LureInvest, 3, 4},
		{"Hi, is this Jessica? It's Lisa from the yoga class, are we still on for tea tomorrow?", LureWrongNumber, 2, 2},
		{"Hi, I accidentally sent my WhatsApp code to your number. Can you send it back to me please?", LureCode, 3, 4},
		{"Coucou papa, c'est moi, j'ai changé de numéro. Tu peux m'écrire sur WhatsApp ?", LureFamily, 3, 3},
		{"Hallo! Wir suchen Mitarbeiter für einfache Online-Aufgaben, 300 € am Tag. Schreiben Sie uns auf Telegram", LureJob, 4, 4},
		// Everyday texts.
		{"Hi mum, can you send me 20 euros for the train?", LureNone, 0, 0},
		{"Mama, kannst du mich um 18 Uhr abholen?", LureNone, 0, 0},
		{"How's your mum doing? Say hi from me", LureNone, 0, 0},
		{"Call me when you're free, it's about Friday", LureNone, 0, 0},
		{"My phone died, call dad if you need me", LureNone, 0, 1},
		{"We won the match!! 3-1 😂", LureNone, 0, 1},
		{"Urgent: bring the charger, my phone is dead", LureNone, 0, 1},
		{"The parcel for you is with the neighbours", LureNone, 0, 1},
		{"Paket für dich ist bei den Nachbarn", LureNone, 0, 1},
		{"Can you transfer me 15 for the pizza? Thx", LureNone, 0, 1},
		{"I work from home on Fridays", LureNone, 0, 1},
		{"Happy birthday! Here's to another great year 🎉", LureNone, 0, 1},
		{"I won 50 euros in the lottery!! call me", LureNone, 0, 2},
		{"I got my tax refund!! 500 euros, call me later", LureNone, 0, 2},
		{"What's the code for the gate? Send me the code pls", LureNone, 0, 1},
		{"Sorry, sent that by mistake 🙈", LureNone, 0, 0},
		{"Mama, meine neue Wohnung ist toll, ruf mich an", LureNone, 0, 0},
		{"Got a new phone! Same number though, call me", LureNone, 0, 0},
		{"My card is blocked, can you transfer me 20 euros?", LureNone, 0, 1},
		{"Mam nowy numer, zapisz sobie", LureNone, 0, 2},
		{"There was suspicious activity on my card, I'm calling the bank", LureNone, 0, 1},
		{"I have a part-time job offer, call me tonight!", LureNone, 0, 2},
		{"Benim yeni numaram bu, kaydet", LureNone, 0, 2},
		{"I moved far away, new number, text me", LureNone, 0, 2},
		{"Hey, this is my new number, save it", LureNone, 0, 2},
		{"Hi Mum, new number, save it x", LureFamily, 2, 3},
		{"Das ist meine neue Nummer, speicher sie ab", LureFamily, 2, 2},
		{"Lieferando: Congratulations, you have won a 10% voucher for your next order! Code WIN10. STOP to 72524", LurePrize, 2, 4},
	}
	for _, c := range cases {
		got := lureOf(c.text)
		if got.Score < c.min || got.Score > c.max || c.kind != LureNone && got.Kind != c.kind {
			t.Errorf("%q: score %d kind %s (%s), want %d-%d %s", c.text, got.Score, got.Kind, got.Parts, c.min, c.max, c.kind)
		}
	}
}

func TestLureScoreAllocs(t *testing.T) {
	text := []byte("Hi Mum, my phone broke, this is my new number. Can you text me on WhatsApp? +447700900123")
	norm, sh := Normalize(nil, text), ShapeOf(text)
	if n := testing.AllocsPerRun(100, func() { LureScore(norm, sh) }); n != 0 {
		t.Fatalf("LureScore allocates %v times", n)
	}
}

// BenchmarkLureScore scores a personal text, and the pipeline benchmarks'
// OTP and delivery notice (allow-path A2P traffic).
func BenchmarkLureScore(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"personal", "Kids are asleep finally. Wine at 9:15? Don't forget the cake for Sam tomorrow"},
		{"otp", "Your verification code is 482913. Do not share it."},
		{"notice", "DHL: your parcel 48291377 arrives tomorrow between 10:00 and 14:00. Track it at https://dhl.com/t/48291377 or reply STOP to opt out of these messages."},
	} {
		b.Run(tc.name, func(b *testing.B) {
			text := []byte(tc.text)
			norm, sh := Normalize(nil, text), ShapeOf(text)
			b.ReportAllocs()
			for range b.N {
				LureScore(norm, sh)
			}
		})
	}
}

// Only the opening LureScanMax bytes are read: a payload of 60 KB costs
// what 2 KiB do, and a lure in the opening is still found.
func TestLureScoreLongText(t *testing.T) {
	lure := "Hi Mum, my phone broke, this is my new number. Can you text me on WhatsApp? "
	long := lure + strings.Repeat("x", 60_000)
	if got := lureOf(long); got.Score != 4 {
		t.Fatalf("lure before padding: %+v", got)
	}
	if got := lureOf(strings.Repeat("x ", LureScanMax) + lure); got.Score != 0 {
		t.Fatalf("lure after %d bytes read: %+v", LureScanMax, got)
	}
}

// Tables derived once from the Unicode NFKD decompositions (combining marks
// stripped) plus hand-written entries for letters without a decomposition
// (ß ø ł đ æ œ þ ħ ı ...). They are plain data: edit by hand.

package textscan

// latinFoldA covers U+00C0..U+02AF (Latin-1 Supplement letters, Latin
// Extended-A/B, IPA): two bytes per code point, the ASCII base letters padded
// with spaces, ".." for none.
const latinFoldA = "" +
	"a a a a a a aec e e e e i i i i d n o o o o o ..o u u u u y thss" + // U+00C0
	"a a a a a a aec e e e e i i i i d n o o o o o ..o u u u u y thy " + // U+00E0
	"a a a a a a c c c c c c c c d d d d e e e e e e e e e e g g g g " + // U+0100
	"g g g g h h h h i i i i i i i i i i ijijj j k k k l l l l l l l " + // U+0120
	"l l l n n n n n n n n n o o o o o o oeoer r r r r r s s s s s s " + // U+0140
	"s s t t t t ....u u u u u u u u u u u u w w y y y z z z z z z s " + // U+0160
	"b b b b ......c c ..d d d ........f f g ....i i k k l ....n n .." + // U+0180
	"o o ....p p ..........t t t t u u ..v y y z z ................w " + // U+01A0
	"........dzdzdzljljljnjnjnja a i i o o u u u u u u u u u u ..a a " + // U+01C0
	"a a ....g g g g k k o o o o ....j dzdzdzg g ..w n n a a ........" + // U+01E0
	"a a a a e e e e i i i i o o o o r r r r u u u u s s t t ....h h " + // U+0200
	"..d ouou....a a e e o o o o o o o o y y l n t j dbqpa c c l t s " + // U+0220
	"z ....b u ..e e j j q q r r y y ..a ..b o ....d ......e ........" + // U+0240
	"g g g ..........i i i ..................n ......................" + // U+0260
	"r ....................v ......y ..................b ....h ....l " + // U+0280
	"................................" // U+02A0

// latinFoldB covers U+1E00..U+1EFF (Latin Extended Additional: Vietnamese,
// Welsh ...), same layout.
const latinFoldB = "" +
	"a a b b b b b b c c d d d d d d d d d d e e e e e e e e e e f f " + // U+1E00
	"g g h h h h h h h h h h i i i i k k k k k k l l l l l l l l m m " + // U+1E20
	"m m m m n n n n n n n n o o o o o o o o p p p p r r r r r r r r " + // U+1E40
	"s s s s s s s s s s t t t t t t t t u u u u u u u u u u v v v v " + // U+1E60
	"w w w w w w w w w w x x x x y y z z z z z z h t w y ..s ....ss.." + // U+1E80
	"a a a a a a a a a a a a a a a a a a a a a a a a e e e e e e e e " + // U+1EA0
	"e e e e e e e e i i i i o o o o o o o o o o o o o o o o o o o o " + // U+1EC0
	"o o o o u u u u u u u u u u u u u u y y y y y y y y ............" // U+1EE0

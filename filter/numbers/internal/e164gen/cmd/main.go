// Command cmd writes filter/numbers/e164_table.go (go generate in
// filter/numbers).
package main

import (
	"flag"
	"log"
	"os"

	"github.com/smsfw/smsfw/filter/numbers/internal/e164gen"
)

func main() {
	out := flag.String("o", "e164_table.go", "output file")
	flag.Parse()
	src, err := e164gen.Generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestServes(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "metrics") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/", "text/html", `<script type="module" src="/console/app.js">`, 200},
		{"/console/", "text/html", "<main id=\"app\">", 200},
		{"/console/app.js", "text/javascript", "hashchange", 200},
		{"/console/pages.js", "text/javascript", "export async function eventDetail", 200},
		{"/console/style.css", "text/css", "mark.hl", 200},
		{"/console/nope.js", "text/plain", "404", 404},
		{"/metrics", "", "metrics", 200},
		{"/other", "", "404", 404},
	}
	for _, c := range cases {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(b), c.contains) {
			t.Errorf("%s: %d %s %.80q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if strings.HasPrefix(c.path, "/console/") || c.path == "/" {
			if resp.Header.Get("Content-Security-Policy") != CSP {
				t.Errorf("%s: no CSP", c.path)
			}
		}
	}
}

// TestNoUnsafeSinks keeps hostile text out of HTML parsing: the console
// builds the DOM with textContent only, loads nothing from other origins
// and has no inline script or style (which the CSP would block anyway).
func TestNoUnsafeSinks(t *testing.T) {
	entries, err := files.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|https?://(?:[^w]|w[^w]|ww[^w])|style=|javascript:`)
	for _, e := range entries {
		b, _ := files.ReadFile("static/" + e.Name())
		src := string(b)
		if e.Name() == "index.html" {
			if strings.Contains(src, "<script>") || strings.Contains(src, "style=") || strings.Contains(src, "http") {
				t.Errorf("index.html: inline script/style or external URL")
			}
			continue
		}
		for _, line := range strings.Split(src, "\n") {
			if m := bad.FindString(line); m != "" && !strings.Contains(line, "http://www.w3.org/2000/svg") {
				t.Errorf("%s: %q in %q", e.Name(), m, strings.TrimSpace(line))
			}
		}
	}
}

package browsertest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestXSSDetectorCatchesExecution is the control of TestXSSCorpusInBrowser: the same detector
// on pages without the app's sanitiser must see scripts run, CSP blocks and unsafe DOM, so a
// zero in the corpus test means "nothing ran", not "nothing was watched".
func TestXSSDetectorCatchesExecution(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	dir := filepath.Join(corporaDir(t), "xss")
	payloads, _, _, _, _ := corpusPayloads(t, dir)
	raw := payloads[:min(300, len(payloads))]
	srv := attackerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/unsafe":
			fmt.Fprint(w, `<!doctype html><ol id="comments"><li><script>alert(1)</script></li>`+
				`<li><img src="data:," onerror="confirm(2)"></li><li><svg onload="prompt(3)"></svg></li>`+
				`<li><a href="java&#09;script:alert(4)">x</a></li><li><b style="color:red">s</b></li></ol>`+
				`<script>console.log("page script")</script>`)
		case "/csp":
			w.Header().Set("Content-Security-Policy", "script-src 'none'; img-src 'self' data:")
			fmt.Fprint(w, `<!doctype html><ol id="comments"><li><img src="data:," onerror="alert(1)"></li>`+
				`<li><img src="https://images.example/x.png"></li></ol><script>alert(2)</script>`)
		case "/raw":
			fmt.Fprint(w, `<!doctype html><ol id="comments">`)
			for _, p := range raw {
				fmt.Fprintf(w, "<li>%s</li>\n", p)
			}
			fmt.Fprint(w, `</ol>`)
		}
	}))

	t.Run("unsafe page", func(t *testing.T) {
		b := newTab(t)
		det := installDetector(t, b)
		b.open(srv + "/unsafe")
		r := b.inspect()
		execs, _ := det.counts()
		for _, want := range []string{"alert: 1", "confirm: 2", "prompt: 3", "console.log"} {
			if !containsPrefix(execs, want) {
				t.Errorf("detector missed %q; saw %v", want, execs)
			}
		}
		if r.Flag < 3 {
			t.Errorf("window.__xss = %d, want >= 3", r.Flag)
		}
		for _, want := range []string{"element <script>", "attribute onerror", "element <svg>", "href=javascript:", "attribute style", "<script> in the document"} {
			if !containsPart(r.DOM, want) {
				t.Errorf("DOM check missed %q; saw %v", want, r.DOM)
			}
		}
	})

	t.Run("CSP blocks are seen", func(t *testing.T) {
		b := newTab(t)
		det := installDetector(t, b)
		b.open(srv + "/csp")
		b.inspect()
		execs, violations := det.counts()
		if len(execs) != 0 {
			t.Errorf("CSP page ran scripts: %v", execs)
		}
		var script, img int
		for _, v := range violations {
			if scriptViolation(v) {
				script++
			} else {
				img++
			}
		}
		if script < 2 || img < 1 {
			t.Errorf("violations seen %v: %d script, %d image; want >= 2 and >= 1", violations, script, img)
		}
	})

	t.Run("raw corpus runs", func(t *testing.T) {
		b := newTab(t)
		det := installDetector(t, b)
		b.open(srv + "/raw")
		r := b.inspect()
		execs, _ := det.counts()
		if len(execs) == 0 || len(r.DOM) == 0 {
			t.Fatalf("the first %d corpus payloads served unsanitised: %d executions, %d DOM findings; the detector is blind", len(raw), len(execs), len(r.DOM))
		}
		t.Logf("control: %d raw payloads without sanitiser or CSP: %d executions, %d unsafe DOM findings", len(raw), len(execs), len(r.DOM))
	})
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func containsPart(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

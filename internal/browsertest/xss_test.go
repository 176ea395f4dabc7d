package browsertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/comments"
)

// hookJS runs in every frame before any script of the page (Page.addScriptToEvaluateOnNewDocument).
// The reference app serves no script at all, so anything that calls these functions, writes
// to the console or throws is an injected script that ran. The bindings report to Go at
// once, so a payload that navigates away or breaks the page cannot hide its execution.
const hookJS = `(() => {
	const report = (kind, detail) => {
		window.__xss = (window.__xss || 0) + 1;
		try { window.__rampartXSS(kind + ": " + String(detail).slice(0, 200)); } catch (e) {}
	};
	for (const name of ["alert", "confirm", "prompt", "print"]) {
		const f = function (...args) { report(name, args.join(" ")); return name === "prompt" ? "" : undefined; };
		try { Object.defineProperty(window, name, {value: f, writable: false, configurable: false}); } catch (e) { window[name] = f; }
	}
	document.addEventListener("securitypolicyviolation", (e) => {
		try { window.__rampartCSP(e.effectiveDirective + " " + e.blockedURI + " " + (e.sample || "")); } catch (x) {}
	}, true);
})();`

// domCheckJS lists what a sanitiser must never let into #comments: active elements, event
// handler and style attributes, and URLs with script-capable schemes (checked after removing
// the control characters and spaces browsers ignore in schemes).
const domCheckJS = `(() => {
	const bad = [];
	const active = new Set(["script","iframe","frame","frameset","object","embed","applet","svg","math","style","link","meta","base","form","input","button","textarea","select","option","template","noscript","xmp","plaintext","audio","video","source","track","portal","animate","set","handler","bgsound","layer","ilayer","xml","image","isindex","keygen","marquee","dialog","slot","canvas","map","area"]);
	const urlAttrs = new Set(["href","src","cite","action","formaction","background","poster","xlink:href","data","srcset","longdesc","usemap","codebase","dynsrc","lowsrc","ping","manifest","icon"]);
	const root = document.querySelector("#comments");
	if (!root) return ["no #comments"];
	for (const el of root.querySelectorAll("*")) {
		const tag = el.localName.toLowerCase();
		if (active.has(tag) || el.namespaceURI !== "http://www.w3.org/1999/xhtml") bad.push("element <" + tag + ">");
		for (const a of el.attributes) {
			const n = a.name.toLowerCase();
			const v = a.value.replace(/[\u0000-\u0020\u007f-\u00a0]/g, "").toLowerCase();
			if (n.startsWith("on") || n === "style" || n === "srcdoc" || n === "is" || n === "autofocus" || n === "contenteditable" || n === "xmlns" || n.includes(":")) bad.push("attribute " + n + " on <" + tag + ">");
			if (urlAttrs.has(n) && /^(javascript|vbscript|data|livescript|mocha|blob|filesystem|jar):/.test(v)) bad.push(n + "=" + v.slice(0, 60));
		}
	}
	if (document.scripts.length !== 0) bad.push(document.scripts.length + " <script> in the document");
	if (document.querySelector("base") !== null) bad.push("<base> in the document");
	return bad;
})()`

// settleJS lets the page's event loop run queued work (image error handlers, violation
// events, focus handlers, zero-delay timers) before the counters are read: two animation
// frames and a macrotask, not a wall-clock sleep.
const settleJS = `new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0))))`

// detector collects, for one tab, everything that shows a script ran: calls of the hooked
// functions, console output, uncaught exceptions, native dialogs; and CSP violations.
type detector struct {
	mu         sync.Mutex
	executions []string
	violations []string
}

func (d *detector) add(list *[]string, s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	*list = append(*list, s)
}

func (d *detector) counts() (exec, csp []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.executions...), append([]string(nil), d.violations...)
}

// installDetector arms a fresh tab; it must run before the first navigation to a page under test.
func installDetector(t *testing.T, b *tab) *detector {
	t.Helper()
	d := &detector{}
	err := chromedp.Listen(b.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventBindingCalled:
			switch ev.Name {
			case "__rampartXSS":
				d.add(&d.executions, ev.Payload)
			case "__rampartCSP":
				d.add(&d.violations, ev.Payload)
			}
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			d.add(&d.executions, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			d.add(&d.executions, "exception: "+ev.ExceptionDetails.Text)
		case *page.EventJavascriptDialogOpening:
			d.add(&d.executions, "dialog "+string(ev.Type)+": "+ev.Message)
			go func() { // a dialog blocks the page; close it off the event loop
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for _, name := range []string{"__rampartXSS", "__rampartCSP"} {
		if _, err := chromedp.Call(ctx, runtime.AddBinding, runtime.AddBindingParams{Name: name}); err != nil {
			t.Fatalf("binding %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: hookJS}); err != nil {
		t.Fatalf("install hook: %v", err)
	}
	return d
}

// pageReport is what one rendered page tells after settling.
type pageReport struct {
	Comments int      `json:"comments"`
	Flag     int      `json:"flag"`
	DOM      []string `json:"dom"`
}

func (b *tab) inspect() pageReport {
	b.t.Helper()
	eval[chromedp.Void](b, settleJS)
	return eval[pageReport](b, `({comments: document.querySelectorAll("#comments li.comment").length, flag: window.__xss || 0, dom: `+domCheckJS+`})`)
}

// scriptViolation says whether a CSP violation means the page tried to run or embed active
// content. Blocked images (img-src 'self' data: stops <img src=https://…>) are not script.
func scriptViolation(v string) bool { return !strings.HasPrefix(v, "img-src ") }

// corpusPayloads reads every line of every file in dir, in file-name order.
func corpusPayloads(t *testing.T, dir string) (payloads []string, files, lines, empty, long int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines++
			line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
			switch {
			case line == "":
				empty++ // the app refuses empty comments; nothing to render
			case len(line) > 10000:
				long++ // over the app's comment limit
			default:
				payloads = append(payloads, line)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files++
	}
	return payloads, files, lines, empty, long
}

// poster posts comments over HTTP with a logged-in session, several at a time (the browser
// renders them; posting thousands by typing would only test the keyboard).
type poster struct {
	hc                  *http.Client
	base, token, origin string
}

func newPoster(t *testing.T, env *apptest.Env, user string) *poster {
	t.Helper()
	c := env.Client(t)
	c.Login(user, alicePassword)
	c.Get("/comments")
	tok := c.Token()
	if tok == "" {
		t.Fatal("no CSRF token on /comments")
	}
	return &poster{hc: c.HTTP, base: env.URL, token: tok, origin: env.URL}
}

func (p *poster) post(body string) error {
	form := url.Values{"body": {body}, "csrf_token": {p.token}}
	req, err := http.NewRequest(http.MethodPost, p.base+"/comments", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/comments" {
		return fmt.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return nil
}

// postAll posts a batch with a few workers and returns the first error.
func (p *poster) postAll(batch []string, workers int) error {
	work := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var first error
			for body := range work {
				if err := p.post(body); err != nil && first == nil {
					first = fmt.Errorf("post %.80q: %w", body, err)
				}
			}
			errs <- first
		})
	}
	for _, b := range batch {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

const pageSize = 100 // the comments page shows the newest 100

// httpPayloads are posted through POST /comments (session, CSRF, the handler's checks); the
// rest go straight into the store, because over HTTP under -race the posting took three
// times longer than rendering and the browser rendering is what this test is about.
const httpPayloads = 2000

// TestXSSCorpusInBrowser posts every line of every file of the shared XSS corpora as a
// comment and renders them, 100 per page view, in Chromium with an execution detector
// installed before any page script. No payload may run (hooked alert/confirm/prompt/print,
// console, exceptions, dialogs), none may make the CSP block a script, and the sanitised DOM
// may hold no active element, handler or script URL; harmless formatting must survive.
func TestXSSCorpusInBrowser(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	dir := filepath.Join(corporaDir(t), "xss")
	payloads, files, lines, empty, long := corpusPayloads(t, dir)
	if len(payloads) < 1000 {
		t.Fatalf("only %d payloads in %s", len(payloads), dir)
	}
	env := apptest.New(t, apptest.Options{})
	mallory := env.CreateUser(t, "mallory", alicePassword, false)
	cs, ok := comments.For(env.Stack.Store)
	if !ok {
		t.Fatal("store keeps no comments")
	}
	p := newPoster(t, env, "mallory")
	b := newTab(t)
	det := installDetector(t, b)

	// Harmless formatting first: it must reach the DOM as real elements.
	const harmless = `<b>bold</b> <i>it</i> <a href="https://example.com/">link</a>`
	if err := p.post(harmless); err != nil {
		t.Fatal(err)
	}
	if st := b.open(env.URL + "/comments"); st != http.StatusOK {
		t.Fatalf("GET /comments: %d", st)
	}
	got := eval[map[string]string](b, `(() => { const body = document.querySelector("#comments li.comment .body");
		return {b: body.querySelector("b")?.textContent || "", i: body.querySelector("i")?.textContent || "",
			a: body.querySelector("a")?.textContent || "", href: body.querySelector("a")?.getAttribute("href") || "",
			rel: body.querySelector("a")?.getAttribute("rel") || ""}; })()`)
	want := map[string]string{"b": "bold", "i": "it", "a": "link", "href": "https://example.com/"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("harmless formatting: %s = %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
	if !strings.Contains(got["rel"], "nofollow") {
		t.Errorf("link rel = %q, want nofollow", got["rel"])
	}

	ctx := context.Background()
	var postTime, renderTime time.Duration
	pages, domFindings := 0, 0
	for i := 0; i < len(payloads); i += pageSize {
		batch := payloads[i:min(i+pageSize, len(payloads))]
		t0 := time.Now()
		if i < httpPayloads {
			if err := p.postAll(batch, 4); err != nil {
				t.Fatalf("posting payloads %d..%d: %v", i, i+len(batch), err)
			}
		} else {
			// What postComment stores: the trimmed raw body (sanitising happens on output).
			for _, body := range batch {
				if _, err := cs.AddComment(ctx, comments.Comment{UserID: mallory.ID, Username: mallory.Username, Body: body, CreatedAt: env.Clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
		}
		t1 := time.Now()
		postTime += t1.Sub(t0)
		if st := b.open(env.URL + "/comments"); st != http.StatusOK {
			t.Fatalf("GET /comments after payload %d: %d", i, st)
		}
		r := b.inspect()
		pages++
		if r.Comments != pageSize {
			t.Fatalf("page %d shows %d comments, want %d", pages, r.Comments, pageSize)
		}
		if r.Flag != 0 {
			t.Errorf("page %d (payloads %d..%d): window.__xss = %d", pages, i, i+len(batch), r.Flag)
		}
		if len(r.DOM) > 0 {
			domFindings += len(r.DOM)
			t.Errorf("page %d (payloads %d..%d): sanitised DOM holds %v", pages, i, i+len(batch), r.DOM)
		}
		renderTime += time.Since(t1)
	}
	execs, violations := det.counts()
	var scriptViolations []string
	for _, v := range violations {
		if scriptViolation(v) {
			scriptViolations = append(scriptViolations, v)
		}
	}
	if len(execs) > 0 {
		t.Errorf("%d script executions: %v", len(execs), execs[:min(len(execs), 20)])
	}
	if len(scriptViolations) > 0 {
		t.Errorf("%d CSP violations for active content (the sanitiser let it through): %v", len(scriptViolations), scriptViolations[:min(len(scriptViolations), 20)])
	}
	if n := commentCount(t, env); n != min(1000, len(payloads)+1) {
		t.Errorf("stored comments (up to 1000) = %d", n)
	}
	t.Logf("XSS corpus: %d files, %d lines (%d empty, %d over 10000 chars), payloads tried: %d, pages rendered: %d (%d comments each; %d payloads posted over HTTP, storing took %s, rendering %s), executions seen: %d, CSP violations: %d (active content %d, blocked images %d), DOM findings: %d",
		files, lines, empty, long, len(payloads), pages, pageSize, min(httpPayloads, len(payloads)), postTime.Round(time.Second), renderTime.Round(time.Second), len(execs), len(violations), len(scriptViolations), len(violations)-len(scriptViolations), domFindings)
}

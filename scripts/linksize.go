//go:build ignore

// Command linksize shows what a Go binary is made of: the size of its symbols (code, data,
// type descriptors) summed by module, or by package with -by package, largest first, from
// `go tool nm -size` and the module list `go version -m` prints. Build the binary without -s
// (a stripped binary has no symbol table); the line-number and function tables
// (runtime.pclntab, about a third of the file, removed by neither -s nor -w) are shown on their
// own line, as are symbols of no package (linker-made).
//
//	go build -o /tmp/minimal ./examples/minimal
//	go run scripts/linksize.go /tmp/minimal             # by module
//	go run scripts/linksize.go -by package -n 40 /tmp/minimal
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	by := flag.String("by", "module", "group by module or package")
	n := flag.Int("n", 30, "lines to print (0: all)")
	flag.Parse()
	if flag.NArg() != 1 || (*by != "module" && *by != "package") {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/linksize.go [-by module|package] [-n N] BINARY")
		os.Exit(2)
	}
	bin := flag.Arg(0)
	mods, err := modules(bin)
	if err != nil {
		fail(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		fail(fmt.Errorf("%s: %w (build without -s)", bin, err))
	}
	sums := map[string]int64{}
	inSyms := map[elf.SectionIndex]int64{}
	for _, s := range syms {
		// Only what takes room in the file: .bss and .noptrbss (zeroed at start) are left out.
		if s.Section >= elf.SectionIndex(len(f.Sections)) || s.Size == 0 {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type != elf.SHT_PROGBITS || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		key := pkgOf(s.Name)
		switch {
		case key == "":
			key = "(no package: linker-made)"
		case *by == "module":
			key = moduleOf(key, mods)
		}
		sums[key] += int64(s.Size)
		inSyms[s.Section] += int64(s.Size)
	}
	// What no symbol covers: the function and line tables (.gopclntab), most of the type and
	// string data, alignment.
	var total int64
	for i, sec := range f.Sections {
		if sec.Type != elf.SHT_PROGBITS || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		total += int64(sec.Size)
		if rest := int64(sec.Size) - inSyms[elf.SectionIndex(i)]; rest > 0 {
			sums["(no symbol: "+sec.Name+")"] += rest
		}
	}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return sums[keys[i]] > sums[keys[j]] })
	if st, err := os.Stat(bin); err == nil {
		fmt.Printf("%s: %s on disk, %s loaded (code and data)\n", bin, mb(st.Size()), mb(total))
	}
	for i, k := range keys {
		if *n > 0 && i == *n {
			var rest int64
			for _, k := range keys[i:] {
				rest += sums[k]
			}
			fmt.Printf("%10s  (%d more)\n", mb(rest), len(keys)-i)
			break
		}
		fmt.Printf("%10s  %s\n", mb(sums[k]), k)
	}
}

// pkgOf returns the import path of a symbol's package: "type:*github.com/a/b.T" and
// "go:itab.*github.com/a/b.T,io.Reader" give "github.com/a/b"; "" when it has none.
func pkgOf(name string) string {
	if strings.HasPrefix(name, "go:func.") || strings.HasPrefix(name, "go:string.") {
		return "" // function metadata and string data of every package
	}
	for _, p := range []string{"type:.eq.", "type:.hash.", "type:", "go:itab.", "go:info.", "go:"} {
		if strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	name = strings.TrimLeft(name, "*[]()0123456789")
	for _, p := range []string{"map.bucket[", "map.group[", "map[", "chan ", "func(", "struct {", "noalg."} {
		if strings.HasPrefix(name, p) {
			return ""
		}
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i] // type arguments name other packages: slices.Sort[go.shape.*net/http.T]
	}
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return name[:slash+1+dot]
}

// moduleOf maps a package to the longest module path that holds it; "std" for the standard
// library (and the vendored golang.org/x copies in it).
func moduleOf(pkg string, mods []string) string {
	best := ""
	for _, m := range mods {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return "std"
	}
	return best
}

// modules lists the binary's main module and dependencies from go version -m.
func modules(bin string) ([]string, error) {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m: %w", err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	return mods, nil
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "linksize:", err)
	os.Exit(1)
}

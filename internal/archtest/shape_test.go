package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/l3dsr/l3dsr"

// goPackage is one directory of Go files, as parsed.
type goPackage struct {
	dir   string // relative to the module root
	name  string
	files []*ast.File // non-test
	tests []*ast.File
}

// loadTree parses every Go package of the module.
func loadTree(t *testing.T) map[string]*goPackage {
	t.Helper()
	root := "../.."
	fset := token.NewFileSet()
	pkgs := map[string]*goPackage{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "build" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		dir = filepath.ToSlash(dir)
		pk := pkgs[dir]
		if pk == nil {
			pk = &goPackage{dir: dir}
			pkgs[dir] = pk
		}
		if strings.HasSuffix(p, "_test.go") {
			pk.tests = append(pk.tests, f)
		} else {
			pk.files = append(pk.files, f)
			pk.name = f.Name.Name
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// imports lists the module's packages that f imports, by directory and by
// the name f uses for each.
func imports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, is := range f.Imports {
		path := strings.Trim(is.Path.Value, `"`)
		dir, ok := strings.CutPrefix(path, module+"/")
		if !ok {
			continue
		}
		name := dir[strings.LastIndex(dir, "/")+1:]
		if is.Name != nil {
			name = is.Name.Name
		}
		m[name] = dir
	}
	return m
}

// layer says which of the module's packages a package may import, as
// docs/architecture.md draws it: data flows one way, from the CLI down to
// the kernel, and only the CLI and the operator-level packages see more
// than one layer.
func mayImport(from, to string) bool {
	switch {
	case to == "dsrtypes":
		return true // the domain types are everyone's
	case strings.HasPrefix(from, "internal/") || from == "dsrtypes":
		// Plumbing imports plumbing, never an API above it.
		return strings.HasPrefix(to, "internal/")
	case from == "maptable":
		return strings.HasPrefix(to, "internal/")
	case from == "pcapcheck" || strings.HasPrefix(from, "pcapcheck/"):
		// verify reads the table through an interface: no backend here.
		return strings.HasPrefix(to, "pcapcheck/") || to == "internal/rtnl"
	case from == "metrics":
		// The exposition reads both roles' state (director.Status,
		// maptable.Entry) through functions the agent hands it.
		return to == "director" || to == "maptable" || strings.HasPrefix(to, "internal/")
	case from == "health":
		// The checks reach reals through the caller's dialer and IPVS's
		// types; what they decide, the agent acts on.
		return strings.HasPrefix(to, "internal/")
	case from == "agent":
		// The agent runs both roles from the file: it plans with config,
		// acts on the director, probes with health, exposes with metrics.
		return !strings.HasPrefix(to, "cmd/") && !strings.HasPrefix(to, "tests/") && !strings.HasPrefix(to, "pcapcheck")
	case from == "cmd/l3dsr":
		return !strings.HasPrefix(to, "cmd/")
	case from == "doctor":
		// doctor reads the host as both roles and the config file sees
		// them: every package beside it and below, nothing above.
		return !strings.HasPrefix(to, "cmd/") && !strings.HasPrefix(to, "tests/") && !strings.HasPrefix(to, "pcapcheck")
	case strings.HasPrefix(from, "tests/"):
		return true
	}
	// director, realserver, config: the table, the plumbing and each other
	// in one direction (config plans with director and realserver).
	if to == "config" || strings.HasPrefix(to, "cmd/") || strings.HasPrefix(to, "tests/") || strings.HasPrefix(to, "pcapcheck") {
		return false
	}
	return from == "config" || (to != "director" && to != "realserver")
}

func TestImportLayers(t *testing.T) {
	for _, pk := range loadTree(t) {
		for _, f := range pk.files {
			for _, to := range imports(f) {
				if !mayImport(pk.dir, to) {
					t.Errorf("%s imports %s: against the layers of docs/architecture.md", pk.dir, to)
				}
			}
		}
	}
}

// implicit are methods that callers reach through an interface (fmt,
// errors, encoding, pflag) rather than by name.
var implicit = map[string]bool{
	"String": true, "Error": true, "Unwrap": true, "Is": true, "As": true, "Format": true, "GoString": true,
	"MarshalJSON": true, "UnmarshalJSON": true, "MarshalText": true, "UnmarshalText": true,
	"MarshalYAML": true, "UnmarshalYAML": true, "Set": true, "Type": true,
}

// exported lists the exported names a package declares: top-level names,
// and methods, struct fields and interface methods as ".Name". mentions
// notes, for each name, the identifiers its declaration's type uses
// (parameters, results, fields), so that a type only ever reached through
// a read function or a read type's field counts as read. encoded lists the
// fields that encoding/json or yaml read by their tag.
func exported(pk *goPackage) (names map[string]bool, mentions map[string][]string, encoded map[string]bool) {
	names, mentions, encoded = map[string]bool{}, map[string][]string{}, map[string]bool{}
	mention := func(name string, expr ast.Node) {
		ast.Inspect(expr, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				mentions[name] = append(mentions[name], id.Name)
			}
			return true
		})
	}
	for _, f := range pk.files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					if implicit[name] {
						continue
					}
					name = "." + name
				}
				names[name] = true
				mention(name, d.Type)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						names[s.Name.Name] = true
						var fields *ast.FieldList
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields = tt.Fields
						case *ast.InterfaceType:
							fields = tt.Methods
						}
						if fields == nil {
							mention(s.Name.Name, s.Type)
							continue
						}
						for _, fl := range fields.List {
							mention(s.Name.Name, fl.Type)
							tagged := fl.Tag != nil && (strings.Contains(fl.Tag.Value, `json:"`) || strings.Contains(fl.Tag.Value, `yaml:"`))
							for _, n := range fl.Names {
								if n.IsExported() && !implicit[n.Name] {
									names["."+n.Name] = true
									mention("."+n.Name, fl.Type)
									encoded["."+n.Name] = tagged
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return names, mentions, encoded
}

// readers finds, for package dir, the names other packages' files (tests
// included) read: pkg.Name by import, and .Name for any selector or
// composite-literal key, since without types a method or field cannot be
// told apart by receiver.
func readers(pkgs map[string]*goPackage, dir string) map[string]bool {
	read := map[string]bool{}
	for odir, opk := range pkgs {
		if odir == dir {
			continue
		}
		for _, f := range slices.Concat(opk.files, opk.tests) {
			imp := imports(f)
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && imp[id.Name] == dir {
						read[n.Sel.Name] = true
					}
					read["."+n.Sel.Name] = true
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok {
						read["."+id.Name] = true
					}
				}
				return true
			})
		}
	}
	return read
}

// unread lists a package's exported names that no other package reads. A
// name is read when another package names it, when it is a field encoding
// reads by its tag, or when the declaration of a read name uses it (the
// result of a read function, the type of a read field).
func unread(pkgs map[string]*goPackage, pk *goPackage) []string {
	names, mentions, encoded := exported(pk)
	read := readers(pkgs, pk.dir)
	for n := range names {
		if encoded[n] {
			read[n] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for n := range names {
			if !read[n] {
				continue
			}
			for _, m := range mentions[n] {
				if names[m] && !read[m] {
					read[m], changed = true, true
				}
			}
		}
	}
	var out []string
	for n := range names {
		if !read[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func TestEveryExportedNameHasAReader(t *testing.T) {
	pkgs := loadTree(t)
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	total := 0
	for _, d := range dirs {
		pk := pkgs[d]
		if pk.name == "main" || pk.name == "" || d == "internal/archtest" {
			continue
		}
		names, _, _ := exported(pk)
		total += len(names)
		left := unread(pkgs, pk)
		t.Logf("%-24s %4d exported, %3d without a reader outside", d, len(names), len(left))
		if len(left) > 0 {
			t.Errorf("%s exports names no other package reads: %s (unexport them, or give them a reader)", d, strings.Join(left, " "))
		}
	}
	t.Logf("total: %d exported names", total)
}

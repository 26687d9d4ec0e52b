package cheader

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// reCName is the C name a Go constant's line comment starts with.
var reCName = regexp.MustCompile(`^(_*[A-Z][A-Z0-9_]*)\b`)

// goConsts reads the constants of the Go file at path that name, first in
// their line comment, the C constant they mirror:
//
//	cmdNewService = 1 // IPVS_CMD_NEW_SERVICE
//
// and returns their values (int64 or string) by that C name: the comment
// is the mapping, written once. A value is a string, or an integer
// expression of numbers and the file's constants before it, read as the
// header's are.
func goConsts(path string) (map[string]any, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	goNames := Header{Values: map[string]any{}} // by Go name, for the expressions
	byC := map[string]any{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || vs.Comment == nil {
				continue
			}
			m := reCName.FindStringSubmatch(vs.Comment.Text())
			if m == nil {
				continue
			}
			name, text := vs.Names[0].Name, string(src[fset.Position(vs.Values[0].Pos()).Offset:fset.Position(vs.Values[0].End()).Offset])
			var v any
			if strings.HasPrefix(text, `"`) {
				v, err = strconv.Unquote(text)
			} else {
				v, err = goNames.eval(text)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", path, name, err)
			}
			if _, dup := byC[m[1]]; dup {
				return nil, fmt.Errorf("%s: %s is named by two constants", path, m[1])
			}
			goNames.Values[name], byC[m[1]] = v, v
		}
	}
	return byC, nil
}

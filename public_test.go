package taosync_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// publicPackages are the packages other programs may import: their exported
// API names no type of an internal package, which those programs could not
// name.
var publicPackages = []string{".", "bundle", "manifest", "minisign", "exporter", "importer"}

// TestPublicAPINamesNoInternalType reads the public packages' exported
// declarations (functions, methods of exported types, exported struct
// fields and interface methods, typed variables and constants) and fails on
// any type taken from an internal package.
func TestPublicAPINamesNoInternalType(t *testing.T) {
	for _, dir := range publicPackages {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, where := range internalUses(f) {
				t.Errorf("%s: the exported API names a type of internal package %s", fset.Position(where.Pos()), where.Name)
			}
		}
	}
}

// internalUses returns the identifiers, in f's exported declarations, of
// the packages f imports from an internal folder.
func internalUses(f *ast.File) []*ast.Ident {
	internal := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if !strings.Contains(path, "/internal/") {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		internal[name] = true
	}
	var uses []*ast.Ident
	check := func(n ast.Node) {
		if n == nil {
			return
		}
		ast.Inspect(n, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] {
					uses = append(uses, id)
				}
			}
			return true
		})
	}
	// fields checks the exported (or embedded) fields of a struct or the
	// exported methods of an interface.
	fields := func(l *ast.FieldList) {
		for _, fld := range l.List {
			if len(fld.Names) == 0 || fld.Names[0].IsExported() {
				check(fld.Type)
			}
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && (d.Recv == nil || exportedReceiver(d.Recv)) {
				check(d.Type)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					switch typ := s.Type.(type) {
					case *ast.StructType:
						fields(typ.Fields)
					case *ast.InterfaceType:
						fields(typ.Methods)
					default:
						check(typ)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							check(s.Type)
							break
						}
					}
				}
			}
		}
	}
	return uses
}

// exportedReceiver reports whether a method's receiver type is exported.
func exportedReceiver(recv *ast.FieldList) bool {
	typ := recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

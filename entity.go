// Package taosync holds the domain of the tool: the six synchronised entity
// types and their fields, shared by the loader, the stores, the exporter and
// the importer, and the words both sides of an exchange speak: the records,
// execution revisions and receipts a bundle carries, each with its writer
// and its reader in one file (record.go, outgoing.go, receipt.go), the
// client's state, the section names, and the interfaces the stores
// implement for the exporter and the importer (store.go). Adapters (SQLite,
// the bundle container, HTTP) live in sub-packages; of them the root
// imports only the container (bundle, manifest), whose types the store
// interfaces name.
package taosync

import "fmt"

// Type names one of the six synchronised data types. The names are part of
// the contract (docs/data.md): they appear on the command line, in bundles
// and in the client's database.
type Type string

// The six types.
const (
	TestCenter    Type = "test-center"
	Administrator Type = "administrator"
	Proctor       Type = "proctor"
	TestTaker     Type = "test-taker"
	Eligibility   Type = "eligibility"
	Delivery      Type = "delivery"
)

// Types lists every type in the order a bundle carries them: the ones
// others refer to come first.
var Types = []Type{TestCenter, Administrator, Proctor, TestTaker, Delivery, Eligibility}

// ParseType returns the Type named s, or an error listing the valid names.
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown type %q (want one of test-center, administrator, proctor, test-taker, eligibility, delivery)", s)
}

// FieldKind is the JSON shape of a field's value.
type FieldKind int

// Field kinds.
const (
	String FieldKind = iota // a JSON string
	List                    // a JSON array of strings; "a|b" in CSV
	Bool                    // a JSON boolean; true/false (also 1/0, yes/no) in CSV
	Int                     // a JSON integer
	Time                    // an RFC 3339 timestamp as a JSON string
)

// Field describes one known field of a type. Fields not listed are kept and
// synchronised unchanged.
type Field struct {
	Name     string
	Kind     FieldKind
	Required bool
	// Ref names the type whose ids this field holds, if any.
	Ref Type
	// Default is the value used when the field is absent, if any.
	Default any
}

var person = []Field{
	{Name: "login", Kind: String, Required: true},
	{Name: "password_hash", Kind: String},
	{Name: "first_name", Kind: String},
	{Name: "last_name", Kind: String},
	{Name: "email", Kind: String},
}

// Fields gives the known fields of each type, id excluded (every entity has
// a non-empty string id).
var Fields = map[Type][]Field{
	TestCenter: {
		{Name: "label", Kind: String, Required: true},
		{Name: "org_id", Kind: String, Required: true},
	},
	Administrator: append(append([]Field{}, person...),
		Field{Name: "test_centers", Kind: List, Ref: TestCenter}),
	Proctor: append(append([]Field{}, person...),
		Field{Name: "test_centers", Kind: List, Ref: TestCenter}),
	TestTaker: append(append([]Field{}, person...),
		Field{Name: "language", Kind: String}),
	Eligibility: {
		{Name: "test_center", Kind: String, Required: true, Ref: TestCenter},
		{Name: "delivery", Kind: String, Required: true, Ref: Delivery},
		{Name: "test_takers", Kind: List, Ref: TestTaker},
		{Name: "proctored", Kind: Bool, Default: true},
	},
	Delivery: {
		{Name: "label", Kind: String, Required: true},
		{Name: "max_executions", Kind: Int, Default: 0},
		{Name: "start", Kind: Time},
		{Name: "end", Kind: Time},
	},
}

// FieldOf returns the known field name of type t, if there is one.
func FieldOf(t Type, name string) (Field, bool) {
	for _, f := range Fields[t] {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Entity is one record of a type. Data is its JSON object, id included,
// with every field as loaded (known fields in their Kind, others unchanged).
type Entity struct {
	Type Type
	ID   string
	Data []byte
	// Password is the clear password a loaded row gave (hashed into Data's
	// password_hash), kept in memory only: a store that holds a hash of the
	// same password keeps it, so that reloading a file changes nothing.
	Password string
}

// PackageField is the delivery field that central sets on publish and that
// no loaded file may set: the published package's hash, size and chunks.
const PackageField = "package"

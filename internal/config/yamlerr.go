package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	typeErrLine  = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal (\\S+)(?: `(.*)`)? into (\\S+)$")
)

// decodeError turns an error from yaml.v3 into one line that starts with the
// file name and, where the YAML node can be found, names the key:
// `config.yaml: line 7: unknown key "twilio.acount_sid"`.
func decodeError(file string, data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A syntax error: "yaml: line 3: mapping values are not allowed in this context".
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return fmt.Errorf("%s: %s", file, oneLine(msg))
	}
	var keys *keyIndex
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		keys = indexKeys(&root)
	}
	const maxShown = 5
	msgs := make([]string, 0, min(len(te.Errors), maxShown)+1)
	for i, e := range te.Errors {
		if i == maxShown {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(te.Errors)-maxShown))
			break
		}
		msgs = append(msgs, describe(keys, e))
	}
	return fmt.Errorf("%s: %s", file, strings.Join(msgs, "; "))
}

// describe rewrites one yaml.TypeError message ("line 7: field twillio not
// found in type config.Config") in terms of keys.
func describe(keys *keyIndex, e string) string {
	m := typeErrLine.FindStringSubmatch(e)
	if m == nil {
		return oneLine(e)
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	prefix := "line " + m[1] + ": "
	if f := unknownField.FindStringSubmatch(msg); f != nil {
		return prefix + fmt.Sprintf("unknown key %q", keys.keyAt(line, f[1]))
	}
	if c := cannotDecode.FindStringSubmatch(msg); c != nil {
		got := strconv.Quote(c[2])
		switch c[1] {
		case "!!map":
			got = "a mapping"
		case "!!seq":
			got = "a list"
		}
		e := keys.valueAt(line, c[3], c[2])
		if e != nil {
			got = describeNode(e.val)
		}
		want := describeType(c[3])
		if e == nil || e.path == "" {
			return prefix + fmt.Sprintf("want %s, got %s", want, got)
		}
		return prefix + fmt.Sprintf("%s: want %s, got %s", e.path, want, got)
	}
	if e := keys.valueAt(line, "", msg); e != nil && e.path != "" {
		return prefix + e.path + ": " + oneLine(msg)
	}
	return prefix + oneLine(msg)
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}

func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "string":
		return "text"
	case t == "config.Duration":
		return `a duration such as "30m" or "7d"`
	case strings.HasPrefix(t, "config."):
		return "a mapping"
	}
	return t
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// keyIndex lists every key and list item of a YAML document with its path
// ("twilio.from", "officers[1].phone") so that an error that only carries a
// line number can name the key.
type keyIndex struct {
	entries []keyEntry
}

type keyEntry struct {
	path string
	key  *yaml.Node // nil for a list item or the document itself
	val  *yaml.Node
	typ  reflect.Type // the Go type val decodes into; nil for an unknown key
}

func indexKeys(doc *yaml.Node) *keyIndex {
	x := &keyIndex{}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		t := reflect.TypeFor[Config]()
		x.entries = append(x.entries, keyEntry{val: doc.Content[0], typ: t})
		x.walk("", doc.Content[0], t, 0)
	}
	return x
}

// maxWalkDepth bounds the recursion on hostile input; no key of Config is
// nested deeper than 3.
const maxWalkDepth = 16

func (x *keyIndex) walk(path string, n *yaml.Node, t reflect.Type, depth int) {
	if depth > maxWalkDepth {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ft := fieldType(t, k.Value)
			x.entries = append(x.entries, keyEntry{path: p, key: k, val: v, typ: ft})
			x.walk(p, v, ft, depth+1)
		}
	case yaml.SequenceNode:
		var et reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			et = t.Elem()
		}
		for i, v := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			x.entries = append(x.entries, keyEntry{path: p, val: v, typ: et})
			x.walk(p, v, et, depth+1)
		}
	}
}

// fieldType returns the type of the field of struct t whose yaml tag is
// name, or nil.
func fieldType(t reflect.Type, name string) reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name {
			return f.Type
		}
	}
	return nil
}

// keyAt returns the path of the key named name on line, or name itself.
func (x *keyIndex) keyAt(line int, name string) string {
	if x == nil {
		return name
	}
	for _, e := range x.entries {
		if e.key != nil && e.key.Line == line && e.key.Value == name {
			return e.path
		}
	}
	return name
}

// valueAt returns the entry whose value starts on line and decodes into the
// Go type named typ (any type when ""). When several do (a flow mapping, a
// list on one line), it picks the scalar the message mentions (yaml.v3
// shortens long values to 7 bytes and "..."), else the first in document
// order that is not the document itself.
func (x *keyIndex) valueAt(line int, typ string, hint string) *keyEntry {
	if x == nil {
		return nil
	}
	var found []*keyEntry
	for i := range x.entries {
		e := &x.entries[i]
		if e.val.Line == line && (typ == "" || e.typ != nil && e.typ.String() == typ) {
			found = append(found, e)
		}
	}
	if len(found) <= 1 {
		if len(found) == 0 {
			return nil
		}
		return found[0]
	}
	if hint != "" {
		prefix, cut := strings.CutSuffix(hint, "...")
		var match *keyEntry
		for _, e := range found {
			if e.val.Kind != yaml.ScalarNode {
				continue
			}
			v := e.val.Value
			if v == hint || (cut && strings.HasPrefix(v, prefix)) || strings.Contains(hint, strconv.Quote(v)) {
				if match != nil {
					match = nil // ambiguous
					break
				}
				match = e
			}
		}
		if match != nil {
			return match
		}
	}
	for _, e := range found {
		if e.path != "" {
			return e
		}
	}
	return found[0]
}

// lineOf returns the line of data on which the key path ("twilio.from",
// "officers[1].phone") is written, or the line of the nearest enclosing key
// or list item that is (a key left out of an officer: that officer's
// line); 0 when none is, or data is not YAML.
func lineOf(data []byte, path string) int {
	var root yaml.Node
	if len(data) == 0 || yaml.Unmarshal(data, &root) != nil {
		return 0
	}
	x := indexKeys(&root)
	for p := path; p != ""; {
		for _, e := range x.entries {
			if e.path != p {
				continue
			}
			if e.key != nil {
				return e.key.Line
			}
			return e.val.Line
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Package flows loads conversation flows from YAML: the embedded defaults,
// or a directory an office maintains, so that a question or a choice can be
// changed without touching Go code.
package flows

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"aduan/dialog"
)

//go:embed default/*.yaml default/gazetteer.csv
var defaults embed.FS

// GazetteerFile is the name of the places file in a flows directory. A
// directory without one uses the embedded list.
const GazetteerFile = "gazetteer.csv"

// Start is the step every new conversation is greeted with; Handover the
// step PETUGAS (talk to an officer) leads to.
const (
	Start    = "menu"
	Handover = "officer.message"
)

// Load compiles the flows in dir, or the embedded defaults when dir is "".
// A directory holds texts.yaml (the shared texts) and one file per flow.
// The error lists every problem found, one per line.
func Load(dir string) (*dialog.Book, error) {
	var fsys fs.FS
	if dir == "" {
		sub, err := fs.Sub(defaults, "default")
		if err != nil {
			return nil, err
		}
		fsys = sub
	} else {
		fsys = os.DirFS(dir)
	}
	return LoadFS(fsys)
}

// LoadFS compiles the flows in fsys.
func LoadFS(fsys fs.FS) (*dialog.Book, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var (
		flows []*dialog.Flow
		texts map[string]dialog.Text
	)
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if path.Base(name) == "texts.yaml" {
			if err := dec.Decode(&texts); err != nil {
				return nil, fmt.Errorf("%s: %s", name, yamlError(err))
			}
			continue
		}
		var f dialog.Flow
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %s", name, yamlError(err))
		}
		if f.ID == "" {
			f.ID = strings.TrimSuffix(path.Base(name), ".yaml")
		}
		flows = append(flows, &f)
	}
	if texts == nil {
		return nil, fmt.Errorf("texts.yaml: missing")
	}
	places, err := loadPlaces(fsys)
	if err != nil {
		return nil, err
	}
	return dialog.Compile(Start, Handover, flows, texts, places)
}

// loadPlaces reads the gazetteer of fsys, or the embedded one when fsys
// has none.
func loadPlaces(fsys fs.FS) (*dialog.Gazetteer, error) {
	b, err := fs.ReadFile(fsys, GazetteerFile)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = defaults.ReadFile("default/" + GazetteerFile)
	}
	if err != nil {
		return nil, err
	}
	g, err := dialog.ParseGazetteer(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", GazetteerFile, err)
	}
	return g, nil
}

// Places returns the embedded gazetteer: the regency's kecamatan, with
// their former names, and villages. It panics if the embedded file is
// broken, which the tests rule out.
func Places() *dialog.Gazetteer {
	placesOnce.Do(func() {
		var err error
		if defaultPlaces, err = loadPlaces(defaults); err != nil {
			panic("flows: embedded gazetteer: " + err.Error())
		}
	})
	return defaultPlaces
}

var (
	placesOnce    sync.Once
	defaultPlaces *dialog.Gazetteer
)

func yamlError(err error) string {
	return strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; ")
}

package provider

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// SetFields returns current (a JSON object, or empty) with fields set,
// keeping every other field, so that settings stored beside a credential (a
// host, a username, a consumer's own fields) survive rotation.
func SetFields(current []byte, fields map[string]any) ([]byte, error) {
	doc, err := Object(current)
	if err != nil {
		return nil, err
	}
	for k, v := range fields {
		doc[k] = v
	}
	return json.Marshal(doc)
}

// Object decodes a secret value that must be a JSON object; an empty value is
// an empty object. The error never quotes the value.
func Object(value []byte) (map[string]any, error) {
	doc := map[string]any{}
	if len(bytes.TrimSpace(value)) == 0 {
		return doc, nil
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, rotorerr.New(rotorerr.InvalidInput, "secret value is not a JSON object")
	}
	return doc, nil
}

// Field returns the string field name of a JSON object value.
func Field(value []byte, name string) (string, error) {
	doc, err := Object(value)
	if err != nil {
		return "", err
	}
	v, ok := doc[name]
	if !ok {
		return "", rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret value has no field %q", name))
	}
	s, ok := v.(string)
	if !ok {
		return "", rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret value field %q is not a string", name))
	}
	return s, nil
}

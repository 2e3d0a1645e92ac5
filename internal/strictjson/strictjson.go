// Package strictjson decodes configuration and payloads strictly and
// describes failures without quoting the input, which may hold a secret.
//
// It uses encoding/json/v2 semantics (github.com/go-json-experiment/json,
// the standard library's v2 API as a module): member names match
// case-sensitively, duplicate names are errors, and with
// RejectUnknownMembers an unknown member is an error. encoding/json (v1)
// would quietly accept {"baseURL": ...} for a field tagged "baseUrl".
package strictjson

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Decode decodes data into v, rejecting unknown and duplicate members,
// case-mismatched names and trailing data. The error names the problem and
// where it is, never the offending text.
func Decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		return errors.New(Describe(err))
	}
	return nil
}

// Describe reduces a decoding error to a description that is safe to log:
// the member's JSON Pointer and what was expected, or the byte offset of a
// syntax error. It never includes a JSON value.
func Describe(err error) string {
	var se *json.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated or empty JSON"
	case errors.As(err, &sy):
		if errors.Is(sy.Err, jsontext.ErrDuplicateName) {
			return fmt.Sprintf("duplicate member %s", where(sy.JSONPointer))
		}
		return fmt.Sprintf("malformed JSON at byte %d", sy.ByteOffset)
	case errors.As(err, &se):
		if errors.Is(se.Err, json.ErrUnknownName) {
			return fmt.Sprintf("unknown field %s", where(se.JSONPointer))
		}
		if se.GoType != nil {
			return fmt.Sprintf("%s must be %s", where(se.JSONPointer), kind(se.GoType))
		}
		return fmt.Sprintf("invalid value at %s", where(se.JSONPointer))
	}
	return "malformed JSON"
}

func where(p jsontext.Pointer) string {
	if p == "" {
		return "the top level"
	}
	return fmt.Sprintf("%q", string(p))
}

func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The AWS JSON protocols (awsJson1.0 for Step Functions and DynamoDB,
// awsJson1.1 for Secrets Manager and EventBridge) carry the SDK's own input
// and output shapes with their Go field names as member names, timestamps
// as epoch seconds and blobs as base64. Requests decode with encoding/json
// into the SDK's input structs (member names match case-insensitively, and
// no input these services take holds a timestamp); outputs are encoded by
// EncodeJSON.

// Content types of the JSON protocols.
const (
	JSON10 = "application/x-amz-json-1.0"
	JSON11 = "application/x-amz-json-1.1"
)

// DecodeJSON decodes a request body into an SDK input struct; an empty
// body is an empty object.
func DecodeJSON(body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, in); err != nil {
		return &Error{Code: "SerializationException", Message: "the request body is not a valid JSON object for this operation"}
	}
	return nil
}

// EncodeJSON encodes an SDK output struct: nil pointers, nil slices and
// maps and zero scalars are left out, time.Time becomes epoch seconds with
// milliseconds, []byte base64, and the SDK's ResultMetadata and unexported
// fields are skipped.
func EncodeJSON(v any) ([]byte, error) {
	return json.Marshal(toWire(reflect.ValueOf(v), false))
}

// EncodeJSONCamel is EncodeJSON for services whose member names are
// lowerCamelCase on the wire (Step Functions: "executionArn").
func EncodeJSONCamel(v any) ([]byte, error) {
	return json.Marshal(toWire(reflect.ValueOf(v), true))
}

// EpochSeconds is t as the JSON protocols put a timestamp.
func EpochSeconds(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
}

var timeType = reflect.TypeFor[time.Time]()

func toWire(v reflect.Value, camel bool) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Type() == timeType {
		return EpochSeconds(v.Interface().(time.Time))
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fv := v.Field(i)
			if isEmpty(fv) {
				continue
			}
			name := f.Name
			if camel {
				name = strings.ToLower(name[:1]) + name[1:]
			}
			out[name] = toWire(fv, camel)
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toWire(v.Index(i), camel)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = toWire(it.Value(), camel)
		}
		return out
	}
	return v.Interface()
}

// WriteJSONError answers err in the AWS JSON protocols' error shape:
// {"__type": CODE, "message": ...} with X-Amzn-ErrorType (see AsError for
// the code and status).
func WriteJSONError(w http.ResponseWriter, contentType string, err error) {
	e, _ := AsError(err, "InternalFailure")
	body, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message, "Message": e.Message})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(body)
}

// WriteJSON answers an SDK output struct.
func WriteJSON(w http.ResponseWriter, contentType string, out any) {
	WriteEncoded(w, contentType, out, EncodeJSON)
}

// WriteJSONCamel answers an SDK output struct with lowerCamelCase members.
func WriteJSONCamel(w http.ResponseWriter, contentType string, out any) {
	WriteEncoded(w, contentType, out, EncodeJSONCamel)
}

// WriteEncoded answers out encoded by enc (json.Marshal for rotor's own
// admin answers), or the encoding's error.
func WriteEncoded(w http.ResponseWriter, contentType string, out any, enc func(any) ([]byte, error)) {
	body, err := enc(out)
	if err != nil {
		WriteJSONError(w, contentType, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return false
}

package localaws

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// The AWS JSON protocols (awsJson1.0 for Step Functions, awsJson1.1 for
// Secrets Manager) carry the SDK's own input and output shapes with their
// Go field names as member names, timestamps as epoch seconds and blobs as
// base64. Requests decode with encoding/json into the SDK's input structs
// (member names match case-insensitively, and no input these services take
// holds a timestamp); outputs are encoded by encodeAWSJSON.

// decodeAWSJSON decodes a request body into an SDK input struct.
func decodeAWSJSON(body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, in); err != nil {
		return &apiError{Code: "SerializationException", Message: "the request body is not a valid JSON object for this operation", Status: http.StatusBadRequest}
	}
	return nil
}

// encodeAWSJSON encodes an SDK output struct: nil pointers, nil slices and
// maps and zero scalars are left out, time.Time becomes epoch seconds with
// milliseconds, []byte base64, and the SDK's ResultMetadata and unexported
// fields are skipped.
func encodeAWSJSON(v any) ([]byte, error) {
	return json.Marshal(toWire(reflect.ValueOf(v), false))
}

// encodeAWSJSONCamel is encodeAWSJSON for services whose member names are
// lowerCamelCase on the wire (Step Functions: "executionArn").
func encodeAWSJSONCamel(v any) ([]byte, error) {
	return json.Marshal(toWire(reflect.ValueOf(v), true))
}

var timeType = reflect.TypeOf(time.Time{})

func toWire(v reflect.Value, camel bool) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
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

// apiError is an error answered to the client with its AWS error code.
type apiError struct {
	Code    string
	Message string
	Status  int // default 400
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// writeJSONError answers err in the AWS JSON protocols' error shape:
// {"__type": CODE, "message": ...} with X-Amzn-ErrorType. smithy API errors
// (the SDK's typed errors, which smstore returns) keep their code; server
// faults are 500.
func writeJSONError(w http.ResponseWriter, contentType string, err error) {
	code, msg, status := "InternalFailure", err.Error(), http.StatusInternalServerError
	var ae *apiError
	var se smithy.APIError
	switch {
	case errors.As(err, &ae):
		code, msg, status = ae.Code, ae.Message, ae.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
	case errors.As(err, &se):
		code, msg = se.ErrorCode(), se.ErrorMessage()
		status = http.StatusBadRequest
		if se.ErrorFault() == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
	}
	body, _ := json.Marshal(map[string]string{"__type": code, "message": msg, "Message": msg})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON answers an SDK output struct.
func writeJSON(w http.ResponseWriter, contentType string, out any) {
	writeEncoded(w, contentType, out, encodeAWSJSON)
}

// writeJSONCamel answers an SDK output struct with lowerCamelCase members.
func writeJSONCamel(w http.ResponseWriter, contentType string, out any) {
	writeEncoded(w, contentType, out, encodeAWSJSONCamel)
}

func writeEncoded(w http.ResponseWriter, contentType string, out any, enc func(any) ([]byte, error)) {
	body, err := enc(out)
	if err != nil {
		writeJSONError(w, contentType, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

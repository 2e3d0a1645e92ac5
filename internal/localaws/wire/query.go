package wire

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
)

// The query protocol (IAM, STS, SNS): a form-encoded request body with
// Action and Version, and XML answers. A success is
//
//	<OpResponse xmlns="..."><OpResult>...</OpResult>
//	<ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>
//
// (OpResult left out for operations with no output) and an error
//
//	<ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>...</Code>
//	<Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>

// ParseQuery parses a form-encoded request body.
func ParseQuery(body []byte) (url.Values, error) { return url.ParseQuery(string(body)) }

// FormMap reads a query-protocol map: PREFIX.entry.N.KEY / PREFIX.entry.N.VALUE
// (nil when there is none).
func FormMap(form url.Values, prefix, key, value string) map[string]string {
	var m map[string]string
	for i := 1; ; i++ {
		p := prefix + ".entry." + strconv.Itoa(i) + "."
		k, ok := form[p+key]
		if !ok || len(k) == 0 {
			return m
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k[0]] = form.Get(p + value)
	}
}

// FormList reads a query-protocol list: PREFIX.member.N.
func FormList(form url.Values, prefix string) []string {
	var out []string
	for n := 1; ; n++ {
		v, ok := form[prefix+".member."+strconv.Itoa(n)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// queryResponse is a successful answer; Result carries its own XMLName
// (OpResult) or is nil.
type queryResponse struct {
	XMLName   xml.Name
	XMLNS     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type queryErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Error   struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

// WriteQueryResult answers op's result in namespace xmlns.
func WriteQueryResult(w http.ResponseWriter, xmlns, op, requestID string, result any) {
	WriteXML(w, http.StatusOK, queryResponse{XMLName: xml.Name{Local: op + "Response"}, XMLNS: xmlns, Result: result, RequestID: requestID})
}

// WriteQueryError answers e in namespace xmlns; statuses of 500 and above
// are the receiver's fault, the others the sender's.
func WriteQueryError(w http.ResponseWriter, xmlns, requestID string, e *Error) {
	status := e.HTTPStatus()
	resp := queryErrorResponse{XMLNS: xmlns, RequestID: requestID}
	resp.Error.Type, resp.Error.Code, resp.Error.Message = "Sender", e.Code, e.Message
	if status >= 500 {
		resp.Error.Type = "Receiver"
	}
	WriteXML(w, status, resp)
}

// WriteXML answers v as an XML document.
func WriteXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

package localaws

import (
	"encoding/xml"
	"net/http"
)

// The query protocol's envelopes, as IAM and STS answer them (SNS keeps
// its own). A success is
//
//	<OpResponse xmlns="..."><OpResult>...</OpResult>
//	<ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>
//
// (OpResult left out for operations with no output) and an error
//
//	<ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>...</Code>
//	<Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>

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

// writeQueryResult answers op's result in namespace xmlns.
func writeQueryResult(w http.ResponseWriter, xmlns, op, requestID string, result any) {
	writeXML(w, http.StatusOK, queryResponse{XMLName: xml.Name{Local: op + "Response"}, XMLNS: xmlns, Result: result, RequestID: requestID})
}

// writeQueryError answers e in namespace xmlns; e.Status 0 is 400, and
// statuses of 500 and above are the receiver's fault.
func writeQueryError(w http.ResponseWriter, xmlns, requestID string, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	resp := queryErrorResponse{XMLNS: xmlns, RequestID: requestID}
	resp.Error.Type, resp.Error.Code, resp.Error.Message = "Sender", e.Code, e.Message
	if status >= 500 {
		resp.Error.Type = "Receiver"
	}
	writeXML(w, status, resp)
}

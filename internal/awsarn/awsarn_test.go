package awsarn

import "testing"

func TestFunctionName(t *testing.T) {
	cases := []struct {
		in, name string
		isARN    bool
	}{
		{"create", "create", false},
		{"f:$LATEST", "f", false},
		{"function", "function", false},
		{"function:1", "function", false},
		{"arn:aws-us-gov:lambda:us-gov-west-1:1:function:f", "f", true},
		{"arn:aws:states:::sns:publish", "arn", false},
		{"create:live", "create", false},
		{"123456789012:function:create", "create", false},
		{"123456789012:function:create:7", "create", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:create", "create", true},
		{"arn:aws:lambda:us-east-1:123456789012:function:create:$LATEST", "create", true},
		{"arn:aws-cn:lambda:cn-north-1:123456789012:function:create", "create", true},
		{"arn:aws:sns:us-east-1:123456789012:function:topic", "arn", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:", "arn", false},
		{"arn:aws:lambda:us-east-1:123456789012:layer:x", "arn", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := FunctionName(tc.in); got != tc.name {
				t.Errorf("FunctionName(%q) = %q, want %q", tc.in, got, tc.name)
			}
			if got := IsFunctionARN(tc.in); got != tc.isARN {
				t.Errorf("IsFunctionARN(%q) = %v, want %v", tc.in, got, tc.isARN)
			}
		})
	}
}

// Package iam is the local endpoint's IAM and STS. IAM answers the IAM
// query protocol (form-encoded Action=...&Version=2010-05-08, XML answers, AWS's IAM error codes) for users, their access
// keys and their tags: CreateUser, GetUser, DeleteUser, ListUsers,
// CreateAccessKey, UpdateAccessKey, DeleteAccessKey, ListAccessKeys,
// TagUser, UntagUser and ListUserTags. Any other action is InvalidAction.
//
// IAM keeps AWS's rules that rotation depends on: user names are unique
// without regard to case; a user has at most two access keys, active or
// not (a third is LimitExceeded); a user with access keys cannot be deleted
// (DeleteConflict); a user has at most 50 tags, whose keys are unique
// without regard to case; unknown users and keys are NoSuchEntity, and
// malformed parameters ValidationError. Access key ids are "AKIA" and 16
// characters, secret access keys 40.
//
// IAM does not verify request signatures (no service here does, but STS,
// which verifies them against the secret access keys IAM holds): any
// credentials may call it. Where AWS takes the caller's own user when
// UserName is left out (GetUser, CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, ListAccessKeys), the caller is the user owning the
// access key id in the request's SigV4 credential; a caller whose key IAM
// does not know gets the ValidationError AWS gives non-user callers.
//
// Secret access keys are kept (STS needs them) but returned only by the
// CreateAccessKey that made them, and never logged. Users, keys and tags
// persist in bbolt bucket "iam", one JSON record per user under
// "user:<lower-case name>", when the server has a data file.
//
// STS answers the STS query protocol (Action=GetCallerIdentity&Version=
// 2011-06-15, XML answers) for GetCallerIdentity, the call that proves a
// credential works using only that credential. Any other action is
// InvalidAction.
//
// STS is the one service here that verifies request signatures: every
// other service accepts any credentials. It recomputes the AWS Signature
// Version 4 of the request as received (the canonical request over the
// method, path, query, the headers named in SignedHeaders and the SHA-256
// of the body actually received; the string to sign over the X-Amz-Date
// time and the credential scope) with the secret access key IAM holds for
// the access key id in the Authorization header, and compares it in
// constant time. As AWS does, it answers (STS error XML):
//
//   - MissingAuthenticationToken (403): no Authorization header;
//   - IncompleteSignature (400): a header that is not SigV4
//     (AWS4-HMAC-SHA256), or lacks a part, or does not sign host and the
//     date; presigned URLs are not accepted;
//   - InvalidClientTokenId (403): an access key id IAM does not know,
//     deleted or inactive, or any session token (this endpoint issues
//     none); the server's default credentials are such a key;
//   - SignatureDoesNotMatch (403): a signature that does not match (a
//     wrong secret, a changed body or signed header), a credential scope
//     for another service or day, or a date more than 15 minutes from the
//     server's clock.
//
// The region in the credential scope is not checked against anything
// (this endpoint serves every region). On success it answers the user's
// UserId, Account and Arn (arn:aws:iam::ACCOUNT:user/PATH/NAME).
package iam

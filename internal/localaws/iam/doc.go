// Package iam is the local endpoint's IAM and STS, and the one place it
// decides who made a request and what that principal may do.
//
// IAM answers the IAM query protocol (form-encoded
// Action=...&Version=2010-05-08, XML answers, AWS's IAM error codes) for
// users, their access keys and their tags: CreateUser, GetUser,
// DeleteUser, ListUsers, CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, ListAccessKeys, TagUser, UntagUser and ListUserTags;
// and for roles and their inline policies: CreateRole, GetRole,
// DeleteRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy and
// ListRolePolicies (documents answered URL-encoded, as IAM does). Any
// other action is InvalidAction. Hosts put roles directly too
// (Service.PutRole, PutRolePolicy, DeleteRolePolicy, RolePolicy).
//
// Every policy document is parsed when it is put (iampolicy.ParsePolicy
// for inline policies, iampolicy.ParseDocument for the trust policy): one
// that does not parse, or holds what iampolicy does not model (NotAction,
// IfExists, Bool, policy variables, ...), is refused (the Go API's error
// names the role and the policy; the query API answers
// MalformedPolicyDocument) and changes nothing. A role's compiled policies
// are kept with it, so that deciding a request parses nothing.
//
// IAM keeps AWS's rules that rotation depends on: user names are unique
// without regard to case; a user has at most two access keys, active or
// not (a third is LimitExceeded); a user with access keys cannot be deleted
// (DeleteConflict); a user has at most 50 tags, whose keys are unique
// without regard to case; unknown users and keys are NoSuchEntity, and
// malformed parameters ValidationError. Access key ids are "AKIA" and 16
// characters, secret access keys 40.
//
// IAM itself does not verify request signatures: without the server's
// Options.EnforceIAM any credentials may call it, and with it the server
// has decided the caller before IAM serves the request. Where AWS takes the caller's own user when
// UserName is left out (GetUser, CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, ListAccessKeys), the caller is the user owning the
// access key id in the request's SigV4 credential; a caller whose key IAM
// does not know gets the ValidationError AWS gives non-user callers.
//
// Secret access keys are kept (STS needs them) but returned only by the
// CreateAccessKey that made them, and never logged. Users, keys and tags
// persist in bbolt bucket "iam", one JSON record per user under
// "user:<lower-case name>", and roles under "role:<lower-case name>", when
// the server has a data file.
//
// STS answers the STS query protocol (Action=...&Version=2011-06-15, XML
// answers) for GetCallerIdentity, the call that proves a credential works
// using only that credential, and AssumeRole (RoleArn, RoleSessionName,
// DurationSeconds 900 to 43200, 3600 by default; session policies, tags,
// ExternalId and MFA are refused as not supported; the role's trust policy
// is not evaluated; a role that does not exist is AccessDenied, as on
// AWS). A key STS did not issue may call AssumeRole as the account's root,
// so that the CLI can with any credentials. STS.Issue makes the same
// sessions for a host. A session's access key id is "ASIA" and 16
// characters; its token starts with "RotorLocalSession"; it lives in
// memory only, and after a restart its token is refused
// (InvalidClientTokenId). Any other action is InvalidAction.
//
// STS verifies request signatures, and so, under the server's
// Options.EnforceIAM, does every service for the keys STS and IAM issued
// (STS.Identify). It recomputes the AWS Signature
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
//     deleted or inactive (but AssumeRole takes an unknown key as the
//     root's), a session token that is not the session's, a user's key
//     with a token, or a token of ours whose session is gone; the
//     server's default credentials are an unknown key;
//   - ExpiredToken (400): a session past its expiration;
//   - SignatureDoesNotMatch (403): a signature that does not match (a
//     wrong secret, a changed body or signed header), a credential scope
//     for another service or day, or a date more than 15 minutes from the
//     server's clock.
//
// The region in the credential scope is not checked against anything
// (this endpoint serves every region; it is aws:RequestedRegion). On
// success GetCallerIdentity answers the user's UserId, Account and Arn
// (arn:aws:iam::ACCOUNT:user/PATH/NAME), or a session's (ROLEID:SESSION,
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
//
// Service.Decide is IAM's decision for one request by a Principal: the
// root may do everything; a user nothing (user policies are not
// modelled), but GetCallerIdentity, which needs no permission; a role
// session what its role's inline policies allow, an explicit Deny
// winning (iampolicy.Decide). Each service says what its requests need
// (its Authorize method); this package's for IAM and STS.
package iam

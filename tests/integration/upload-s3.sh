#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh upload droplet against a real S3 server (s3rver, checks SigV4) and the
# DigitalOcean API fixture: a 100 MB multipart upload arrives byte-identical
# (the fixture fetches it through our presigned URL, and so does curl with
# --keep-object), a wrong secret gives a clear error, and nothing is left in
# the bucket afterwards.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/upload-lib.sh
set -e

start_s3
start_do available
head -c $((100 * 1024 * 1024)) /dev/urandom >"$T/mkmesh-droplet-test-amd64.raw.gz"
SUM=$(sha256sum "$T/mkmesh-droplet-test-amd64.raw.gz" | cut -d' ' -f1)

note "100 MB, multipart, default: object deleted afterwards"
start=$(date +%s.%N)
upload plain "$T/mkmesh-droplet-test-amd64.raw.gz" -v
[ "$RC" -eq 0 ] || fail "upload failed"
echo "  took $(echo "$(date +%s.%N) - $start" | bc) s"
grep -qx '[0-9]\+' "$T/plain.out" || fail "stdout is not an image id"
[ "$(do_state 's.fetches[0].sha256')" = "$SUM" ] || fail "the object fetched through the presigned URL differs"
[ "$(do_state 's.fetches[0].presigned')" = true ] || fail "the import URL is not presigned"
[ "$(grep -c 'PUT part' "$T/plain.err")" -ge 7 ] || fail "not a multipart upload in 7 parts"
grep -q "image [0-9]*: pending" "$T/plain.err" || fail "no pending state shown"
bucket_clean
violations

note "--keep-object --json: the object stays and is byte-identical"
upload keep "$T/mkmesh-droplet-test-amd64.raw.gz" --keep-object --json --name kept --tag a --tag b
[ "$RC" -eq 0 ] || fail "upload failed"
key=$(node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1])); if (o.name!=="kept"||o.status!=="available"||o.object_deleted) process.exit(1); console.log(o.object)' "$T/keep.out") ||
	fail "unexpected JSON"
curl -sf --aws-sigv4 aws:amz:nyc3:s3 -u S3RVER:S3RVER \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	-o "$T/back" "http://127.0.0.1:$S3_PORT/images/$key" || fail "cannot read the kept object back"
cmp "$T/back" "$T/mkmesh-droplet-test-amd64.raw.gz" || fail "the kept object differs"
rm -f "$T/back"
[ "$(do_state 'JSON.stringify(Object.values(s.images).pop().tags)')" = '["a","b"]' ] || fail "tags not sent"
curl -sf -X DELETE --aws-sigv4 aws:amz:nyc3:s3 -u S3RVER:S3RVER \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	"http://127.0.0.1:$S3_PORT/images/$key"
bucket_clean

note "wrong secret: a clear error, nothing left behind"
SPACES_SECRET_ACCESS_KEY=not-the-secret upload wrong "$T/mkmesh-droplet-test-amd64.raw.gz" -v
[ "$RC" -eq 1 ] || fail "a wrong secret did not fail with exit 1"
grep -q "SignatureDoesNotMatch" "$T/wrong.err" || fail "the error does not say the signature was refused"
grep -q "check SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY" "$T/wrong.err" || fail "the error does not say what to do"
! grep -q "not-the-secret" "$T"/wrong.* || fail "the secret appears in the output"
[ ! -s "$T/wrong.out" ] || fail "something on stdout after a failure"
bucket_clean

note "a small image goes up in one PUT"
head -c 1000 /dev/urandom >"$T/small.raw.gz"
upload small "$T/small.raw.gz"
[ "$RC" -eq 0 ] || fail "small upload failed"
bucket_clean
violations
no_secrets
echo "all good"

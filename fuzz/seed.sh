#!/usr/bin/env bash
# Builds the seed corpora under fuzz/corpus/<target>/ (git-ignored) from fixtures/ and a few realistic
# inputs. Needs openssl and python3. Run from anywhere: `bash fuzz/seed.sh`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
mkdir -p "$corpus/target" "$corpus/cert" "$corpus/responses"

# --- cert: every fixture certificate as raw DER (the `count = 0` form: byte 0 = 0x00, then the DER), and
# every chain.pem in the length-prefixed form the target splits (see fuzz_targets/cert.rs).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for dir in "$root"/fixtures/*/; do
  name="$(basename "$dir")"
  for pem in "$dir"*.pem; do
    [ -e "$pem" ] || continue
    case "$(basename "$pem")" in key.pem) continue ;; esac
    # Split a bundle into its certificates, convert each to DER.
    awk -v out="$tmp/$name-$(basename "$pem" .pem)" '
      /-----BEGIN CERTIFICATE-----/ { n++; f = out "-" n ".pem" }
      f { print > f }
      /-----END CERTIFICATE-----/ { close(f); f = "" }
    ' "$pem"
  done
done
for pem in "$tmp"/*.pem; do
  [ -e "$pem" ] || continue
  openssl x509 -in "$pem" -outform der -out "${pem%.pem}.der"
  { printf '\x00'; cat "${pem%.pem}.der"; } >"$corpus/cert/$(basename "${pem%.pem}").bin"
done
python3 - "$root" "$corpus/cert" "$tmp" <<'EOF'
import glob, os, re, struct, subprocess, sys
root, out, tmp = sys.argv[1:]
for chain in sorted(glob.glob(os.path.join(root, "fixtures", "*", "chain.pem"))):
    name = os.path.basename(os.path.dirname(chain))
    text = open(chain).read()
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", text, re.S)
    ders = [subprocess.run(["openssl", "x509", "-outform", "der"], input=p.encode(),
                           capture_output=True, check=True).stdout for p in pems][:7]
    # One seed per (name asked for, server clock) choice that the fixtures use: fixture.preflight.test
    # (choice bits 01) with no server clock, and 127.0.0.1 (10) with the right clock.
    for choice in (0b00001, 0b01010):
        head = (choice << 3) | len(ders)
        body = b"".join(struct.pack(">H", len(d)) + d for d in ders)
        with open(os.path.join(out, f"chain-{name}-{choice:02x}.bin"), "wb") as f:
            f.write(bytes([head]) + body)
EOF

# --- target: what users type.
i=0
while IFS= read -r line; do
  i=$((i + 1))
  printf '%s' "$line" >"$corpus/target/seed-$i"
done <<'EOF'
cvp.example.com
cvp.example.com:8443
https://console.example.com:8083/tenant/path?x=1#y
[2001:db8::1]:443
2001:db8::1
10.0.0.5
cvp:*:[::1],10.0.0.5
Console.Example.com:8083:127.0.0.1
2s
500ms
1m 30s
2026-06-01T00:00:00Z
2026-06-01T00:00:00.123+02:00
sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89
http://user:s3cret@proxy:3128/
www.cv-prod-euwest-2.arista.io
EOF
printf 'cvp1.example.com cvp # lab\n# comment\n\n10.0.0.5:8083 prisma\n[::1]:443\nbad host here\nhttps://x:99999\n' \
  >"$corpus/target/scan-list"

# --- responses: tokens and bodies as servers send them.
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
jwt="$(b64 '{"alg":"RS256","typ":"JWT"}').$(b64 '{"did":1,"dsn":"ansible-sa","exp":1780272000,"iat":1780000000}').$(b64 'sig')"
jwt_short="$(b64 '{"alg":"HS256"}').$(b64 '{"sub":"admin","exp":1780272100.5,"iat":1780270300}').$(b64 'sig')"
printf '%s' "$jwt" >"$corpus/responses/jwt"
printf '%s' "$jwt_short" >"$corpus/responses/jwt-short"
printf '{"token":"%s"}' "$jwt_short" >"$corpus/responses/prisma-token"
printf '{"sessionId":"%s","sessionUser":"cvpadmin"}' "$jwt" >"$corpus/responses/cvp-login"
printf '{"version":"2024.1.0"}' >"$corpus/responses/cvp-version"
printf '2026.1.3' >"$corpus/responses/cvp-version-bare"
printf '{"version":"CVaaS"}' >"$corpus/responses/cvaas-version"
printf '"34.04.145"' >"$corpus/responses/prisma-version"
printf '{"errorMessage":"Authentication failed: wrong credentials","errorCode":"112498"}' \
  >"$corpus/responses/cvp-error"
printf '{"err":"invalid credentials"}' >"$corpus/responses/prisma-error"
printf '120\n{"message":"slow down"}' >"$corpus/responses/retry-after"
printf '16\nUnauthenticated: no token' >"$corpus/responses/grpc-unauthenticated"

echo "seeds: $(ls "$corpus/target" | wc -l) target, $(ls "$corpus/cert" | wc -l) cert, $(ls "$corpus/responses" | wc -l) responses"

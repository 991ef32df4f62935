// conveyor-cosign: the part of cosign the signature-verification tests need, built from
// cosign's own packages (github.com/sigstore/cosign/v2 v2.6.5) without its command line, whose
// cloud KMS, Kubernetes and policy dependencies take most of a cold build. Its subcommands and
// flags are cosign's, and so is the code that signs and stores:
//
//	conveyor-cosign generate-key-pair --output-key-prefix P     (cosign.GenerateKeyPair)
//	conveyor-cosign import-key-pair --key F --output-key-prefix P (cosign.ImportKeyPair)
//	conveyor-cosign sign --key K [--certificate C --certificate-chain CH] [--payload F]
//	    [--registry-referrers-mode oci-1-1] [--tlog-upload=false] HOST/REPO@sha256:…
//
// The key's password is read from COSIGN_PASSWORD, as cosign reads it. sign makes cosign's
// simple-signing payload for the digest (or takes --payload), signs it with the key as
// `cosign sign --key` does (cosign.LoadPrivateKey), attaches the certificate and chain when
// given (static.WithCertChain), and stores the signature as cosign does: appended to the
// image's sha256-<hex>.sig manifest (ociremote.WriteSignatures), or with
// --registry-referrers-mode oci-1-1 as an OCI 1.1 referrer
// (ociremote.WriteSignaturesExperimentalOCI). Nothing is sent to a transparency log.
package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"
)

func password(bool) ([]byte, error) {
	return []byte(os.Getenv("COSIGN_PASSWORD")), nil
}

func writeKeys(prefix string, keys *cosign.KeysBytes) error {
	if err := os.WriteFile(prefix+".key", keys.PrivateBytes, 0o600); err != nil {
		return err
	}
	return os.WriteFile(prefix+".pub", keys.PublicBytes, 0o644)
}

func generateKeyPair(args []string) error {
	flags := flag.NewFlagSet("generate-key-pair", flag.ContinueOnError)
	prefix := flags.String("output-key-prefix", "cosign", "name of the key files")
	if err := flags.Parse(args); err != nil {
		return err
	}
	keys, err := cosign.GenerateKeyPair(password)
	if err != nil {
		return err
	}
	return writeKeys(*prefix, keys)
}

func importKeyPair(args []string) error {
	flags := flag.NewFlagSet("import-key-pair", flag.ContinueOnError)
	key := flags.String("key", "", "the PEM private key to import")
	prefix := flags.String("output-key-prefix", "import-cosign", "name of the key files")
	if err := flags.Parse(args); err != nil {
		return err
	}
	keys, err := cosign.ImportKeyPair(*key, password)
	if err != nil {
		return err
	}
	return writeKeys(*prefix, keys)
}

func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

func sign(args []string) error {
	flags := flag.NewFlagSet("sign", flag.ContinueOnError)
	keyPath := flags.String("key", "", "cosign's encrypted private key")
	certPath := flags.String("certificate", "", "the signing certificate (PEM)")
	chainPath := flags.String("certificate-chain", "", "its chain, ending with the root (PEM)")
	payloadPath := flags.String("payload", "", "a payload to sign instead of cosign's own")
	mode := flags.String("registry-referrers-mode", "legacy", "legacy or oci-1-1")
	tlog := flags.Bool("tlog-upload", false, "must be false: nothing is sent to Rekor")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *tlog {
		return fmt.Errorf("--tlog-upload: this signer never uploads to a transparency log")
	}
	if flags.NArg() != 1 {
		return fmt.Errorf("sign: one image by digest expected, got %d arguments", flags.NArg())
	}
	digest, err := name.NewDigest(flags.Arg(0))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	pass, _ := password(false)
	signer, err := cosign.LoadPrivateKey(keyPEM, pass, nil)
	if err != nil {
		return fmt.Errorf("reading key: %w", err)
	}
	payload, err := readOptional(*payloadPath)
	if err != nil {
		return err
	}
	if payload == nil {
		if payload, err = (&sigpayload.Cosign{Image: digest}).MarshalJSON(); err != nil {
			return err
		}
	}
	raw, err := signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	var options []static.Option
	cert, err := readOptional(*certPath)
	if err != nil {
		return err
	}
	chain, err := readOptional(*chainPath)
	if err != nil {
		return err
	}
	if cert != nil {
		options = append(options, static.WithCertChain(cert, chain))
	}
	sig, err := static.NewSignature(payload, base64.StdEncoding.EncodeToString(raw), options...)
	if err != nil {
		return err
	}
	entity, err := ociremote.SignedEntity(digest)
	if err != nil {
		return err
	}
	signed, err := mutate.AttachSignatureToEntity(entity, sig)
	if err != nil {
		return err
	}
	switch *mode {
	case "legacy":
		return ociremote.WriteSignatures(digest.Repository, signed)
	case "oci-1-1":
		return ociremote.WriteSignaturesExperimentalOCI(digest, signed)
	default:
		return fmt.Errorf("--registry-referrers-mode: %q is not legacy or oci-1-1", *mode)
	}
}

func main() {
	commands := map[string]func([]string) error{
		"generate-key-pair": generateKeyPair,
		"import-key-pair":   importKeyPair,
		"sign":              sign,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: conveyor-cosign generate-key-pair|import-key-pair|sign …")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "conveyor-cosign %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

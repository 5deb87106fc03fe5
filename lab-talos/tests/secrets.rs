//! The Talos secrets bundle against talosctl's own files.
//!
//! The reference `secrets.yaml` is Talos's stability-test bundle (public
//! test keys, `lab-talos/reference/SOURCES.md`), an unmodified copy in
//! `lab-talos/reference/talos-examples/`. Certificates are inspected with the crate's
//! own DER reader ([`CertificateInfo`]) and, independently, with
//! x509-parser through rcgen's `Issuer::from_ca_cert_pem`; keys with the
//! `rsa` crate and rcgen/ring. Only one test generates an RSA-4096 key.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use lab_talos::secrets::{
    CertificateInfo, ClientCert, ExtKeyUsage, KeyAlgorithm, SecretsBundle, SecretsError,
    SignatureAlgorithm, VersionContract, CA_VALIDITY, DEFAULT_CLIENT_CERT_VALIDITY, ROLE_ADMIN,
};
use time::OffsetDateTime;
use yaml_rust2::{Yaml, YamlLoader};

const REFERENCE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/reference/talos-examples/secrets.yaml"
);

const GOLDEN_CONTROLPLANE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/reference/talos-examples/v1.13/base-controlplane.yaml"
);

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading the reference file {path}: {e}"))
}

fn reference() -> SecretsBundle {
    SecretsBundle::from_yaml(&read(REFERENCE_PATH)).expect("the reference bundle loads")
}

/// A string at a dotted path of a YAML document.
fn yaml_str(text: &str, path: &str) -> String {
    let docs = YamlLoader::load_from_str(text).unwrap();
    let mut node = &docs[0];
    for key in path.split('.') {
        node = match key.parse::<usize>() {
            Ok(i) => &node[i],
            Err(_) => &node[key],
        };
    }
    match node {
        Yaml::String(s) => s.clone(),
        other => panic!("{path} is not a string: {other:?}"),
    }
}

fn pem_der(pem_text: &str, label: &str) -> Vec<u8> {
    let block = pem::parse(pem_text).unwrap();
    assert_eq!(block.tag(), label);
    block.into_contents()
}

fn info(pem_text: &str) -> CertificateInfo {
    CertificateInfo::from_pem(pem_text).unwrap()
}

fn is_token(s: &str) -> bool {
    let ok = |p: &str, n: usize| {
        p.len() == n
            && p.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    s.split_once('.')
        .is_some_and(|(a, b)| ok(a, 6) && ok(b, 16))
}

/// The reference file starts with a comment talosctl does not write
/// (`talosctl gen secrets` is a bare `yaml.Marshal(bundle)`); everything
/// after it is talosctl's output, and `to_yaml` reproduces it byte for byte.
#[test]
fn reference_bundle_round_trips_byte_for_byte() {
    let reference_text = read(REFERENCE_PATH);
    let (comment, body) = reference_text.split_once('\n').unwrap();
    assert!(
        comment.starts_with("# "),
        "the reference starts with its comment"
    );
    assert_eq!(reference().to_yaml(), body);
    // and again from our own output
    let again = SecretsBundle::from_yaml(body).unwrap();
    assert_eq!(again, reference());
    assert_eq!(again.to_yaml(), body);
}

#[test]
fn accessors_return_the_reference_base64_strings() {
    let b = reference();
    let r = |path: &str| yaml_str(&read(REFERENCE_PATH), path);
    assert_eq!(b.cluster_id().expose(), r("cluster.id"));
    assert_eq!(b.cluster_secret().expose(), r("cluster.secret"));
    assert_eq!(b.bootstrap_token().expose(), r("secrets.bootstraptoken"));
    assert_eq!(
        b.secretbox_secret().unwrap().expose(),
        r("secrets.secretboxencryptionsecret")
    );
    assert!(b.aescbc_secret().is_none());
    assert_eq!(b.trustd_token().expose(), r("trustdinfo.token"));
    assert_eq!(b.os_ca_crt_b64(), r("certs.os.crt"));
    assert_eq!(b.os_ca_key_b64().expose(), r("certs.os.key"));
    assert_eq!(b.k8s_ca_crt_b64(), r("certs.k8s.crt"));
    assert_eq!(b.k8s_ca_key_b64().expose(), r("certs.k8s.key"));
    assert_eq!(b.aggregator_ca_crt_b64(), r("certs.k8saggregator.crt"));
    assert_eq!(
        b.aggregator_ca_key_b64().expose(),
        r("certs.k8saggregator.key")
    );
    assert_eq!(b.etcd_ca_crt_b64(), r("certs.etcd.crt"));
    assert_eq!(b.etcd_ca_key_b64().expose(), r("certs.etcd.key"));
    assert_eq!(
        b.service_account_key_b64().expose(),
        r("certs.k8sserviceaccount.key")
    );
    // The PEM accessors are the decoded text.
    assert_eq!(STANDARD.encode(b.os_ca().crt_pem()), r("certs.os.crt"));
    assert!(b
        .os_ca()
        .key_pem()
        .expose()
        .starts_with("-----BEGIN ED25519 PRIVATE KEY-----\n"));
    // The reference predates contract 1.7: its service-account key is ECDSA.
    assert_eq!(b.service_account_key_algorithm(), KeyAlgorithm::EcdsaP256);
}

/// The same strings are what Talos put into its v1.13 golden control-plane
/// config generated from this bundle.
#[test]
fn accessors_match_talos_golden_config() {
    let b = reference();
    let g = |path: &str| yaml_str(&read(GOLDEN_CONTROLPLANE_PATH), path);
    assert_eq!(b.trustd_token().expose(), g("machine.token"));
    assert_eq!(b.os_ca_crt_b64(), g("machine.ca.crt"));
    assert_eq!(b.os_ca_key_b64().expose(), g("machine.ca.key"));
    assert_eq!(b.cluster_id().expose(), g("cluster.id"));
    assert_eq!(b.cluster_secret().expose(), g("cluster.secret"));
    assert_eq!(b.bootstrap_token().expose(), g("cluster.token"));
    assert_eq!(
        b.secretbox_secret().unwrap().expose(),
        g("cluster.secretboxEncryptionSecret")
    );
    assert_eq!(b.k8s_ca_crt_b64(), g("cluster.ca.crt"));
    assert_eq!(b.k8s_ca_key_b64().expose(), g("cluster.ca.key"));
    assert_eq!(b.aggregator_ca_crt_b64(), g("cluster.aggregatorCA.crt"));
    assert_eq!(
        b.aggregator_ca_key_b64().expose(),
        g("cluster.aggregatorCA.key")
    );
    assert_eq!(
        b.service_account_key_b64().expose(),
        g("cluster.serviceAccount.key")
    );
    assert_eq!(b.etcd_ca_crt_b64(), g("cluster.etcd.ca.crt"));
    assert_eq!(b.etcd_ca_key_b64().expose(), g("cluster.etcd.ca.key"));
}

#[test]
fn reference_cas_read_as_talos_wrote_them() {
    let b = reference();
    let os = b.os_ca().info();
    assert_eq!(os.key_algorithm, KeyAlgorithm::Ed25519);
    assert_eq!(os.signature_algorithm, SignatureAlgorithm::Ed25519);
    assert_eq!(os.subject.organizations, vec!["talos"]);
    assert!(os.is_ca);
    for (ca, org) in [
        (b.k8s_ca(), Some("kubernetes")),
        (b.etcd_ca(), Some("etcd")),
        (b.aggregator_ca(), None),
    ] {
        let i = ca.info();
        assert_eq!(i.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(i.signature_algorithm, SignatureAlgorithm::EcdsaSha256);
        assert_eq!(i.subject.organizations, org.into_iter().collect::<Vec<_>>());
        assert_eq!(i.subject.common_name, None);
        assert_eq!(i.not_after - i.not_before, CA_VALIDITY);
    }
}

/// Go's `MarshalECPrivateKey` layout: SEQUENCE { INTEGER 1, OCTET STRING
/// (32), [0] { OID prime256v1 }, [1] { BIT STRING (65) } }, 121 bytes.
fn assert_go_sec1_p256(der: &[u8]) {
    assert_eq!(der.len(), 121);
    assert_eq!(&der[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
    assert_eq!(
        &der[39..51],
        &[0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
    );
    assert_eq!(&der[51..57], &[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]);
}

/// Go's `MarshalPKCS8PrivateKey` for Ed25519: PKCS#8 v1 without the public
/// key, 48 bytes.
fn assert_go_pkcs8_ed25519(der: &[u8]) {
    assert_eq!(der.len(), 48);
    assert_eq!(
        &der[..16],
        &[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20
        ]
    );
}

#[test]
fn reference_keys_have_the_encodings_we_write() {
    let b = reference();
    for ca in [b.k8s_ca(), b.etcd_ca(), b.aggregator_ca()] {
        assert_go_sec1_p256(&pem_der(ca.key_pem().expose(), "EC PRIVATE KEY"));
    }
    assert_go_sec1_p256(&pem_der(
        b.service_account_key_pem().expose(),
        "EC PRIVATE KEY",
    ));
    assert_go_pkcs8_ed25519(&pem_der(
        b.os_ca().key_pem().expose(),
        "ED25519 PRIVATE KEY",
    ));
}

/// The one test that pays for an RSA-4096 key.
#[test]
fn generated_bundle_is_what_talosctl_gen_secrets_makes() {
    let started = OffsetDateTime::now_utc();
    let b = SecretsBundle::generate(VersionContract::V1_13).unwrap();

    // Cluster id: 32 bytes, URL alphabet with padding; secret: 32 bytes Std.
    let id = b.cluster_id();
    assert_eq!(id.expose().len(), 44);
    assert_eq!(URL_SAFE.decode(id.expose()).unwrap().len(), 32);
    assert_eq!(
        STANDARD.decode(b.cluster_secret().expose()).unwrap().len(),
        32
    );
    assert_eq!(
        STANDARD
            .decode(b.secretbox_secret().unwrap().expose())
            .unwrap()
            .len(),
        32
    );
    assert!(b.aescbc_secret().is_none());
    assert!(is_token(b.bootstrap_token().expose()));
    assert!(is_token(b.trustd_token().expose()));
    assert_ne!(b.bootstrap_token(), b.trustd_token());

    // CAs: algorithms, subjects, flags, ten years from now.
    for (ca, key_alg, sig_alg, org, key_label) in [
        (
            b.os_ca(),
            KeyAlgorithm::Ed25519,
            SignatureAlgorithm::Ed25519,
            Some("talos"),
            "ED25519 PRIVATE KEY",
        ),
        (
            b.k8s_ca(),
            KeyAlgorithm::EcdsaP256,
            SignatureAlgorithm::EcdsaSha256,
            Some("kubernetes"),
            "EC PRIVATE KEY",
        ),
        (
            b.aggregator_ca(),
            KeyAlgorithm::EcdsaP256,
            SignatureAlgorithm::EcdsaSha256,
            None,
            "EC PRIVATE KEY",
        ),
        (
            b.etcd_ca(),
            KeyAlgorithm::EcdsaP256,
            SignatureAlgorithm::EcdsaSha256,
            Some("etcd"),
            "EC PRIVATE KEY",
        ),
    ] {
        let i = ca.info();
        assert_eq!(i.key_algorithm, key_alg);
        assert_eq!(i.signature_algorithm, sig_alg);
        let orgs: Vec<String> = org.into_iter().map(str::to_string).collect();
        assert_eq!(i.subject.organizations, orgs);
        assert_eq!(i.subject.common_name, None);
        assert_eq!(i.issuer, i.subject, "self-signed");
        assert!(i.is_ca);
        let ku = i.key_usage.unwrap();
        assert!(ku.key_cert_sign && ku.digital_signature && !ku.key_encipherment);
        assert_eq!(
            i.ext_key_usage,
            vec![ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth]
        );
        assert_eq!(i.subject_key_id.as_ref().map(Vec::len), Some(20));
        assert_eq!(i.authority_key_id, None);
        assert!(!i.serial_number.is_empty() && i.serial_number.len() <= 17);
        assert_eq!(i.not_after - i.not_before, CA_VALIDITY);
        assert!((i.not_before - started).abs() < time::Duration::seconds(60));
        // PEM labels as Talos writes them, 64-column Go layout.
        let crt = ca.crt_pem();
        assert!(crt.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(crt.ends_with("-----END CERTIFICATE-----\n"));
        assert!(crt.lines().all(|l| l.len() <= 64));
        let key = ca.key_pem();
        assert!(key
            .expose()
            .starts_with(&format!("-----BEGIN {key_label}-----\n")));
        // x509-parser (inside rcgen) reads the certificate and its key usages.
        let issuer = rcgen::Issuer::from_ca_cert_pem(crt, rcgen::KeyPair::generate().unwrap())
            .expect("x509-parser reads the CA");
        assert!(issuer
            .key_usages()
            .contains(&rcgen::KeyUsagePurpose::KeyCertSign));
        assert!(issuer
            .key_usages()
            .contains(&rcgen::KeyUsagePurpose::DigitalSignature));
    }
    // Key encodings byte-compatible with Go's.
    assert_go_pkcs8_ed25519(&pem_der(
        b.os_ca().key_pem().expose(),
        "ED25519 PRIVATE KEY",
    ));
    for ca in [b.k8s_ca(), b.etcd_ca(), b.aggregator_ca()] {
        assert_go_sec1_p256(&pem_der(ca.key_pem().expose(), "EC PRIVATE KEY"));
    }

    // Service-account key: RSA-4096, PKCS#1.
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let sa = b.service_account_key_pem();
    assert!(sa.expose().starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let rsa_key = rsa::RsaPrivateKey::from_pkcs1_pem(sa.expose()).unwrap();
    assert_eq!(rsa_key.size() * 8, 4096);
    assert_eq!(
        b.service_account_key_algorithm(),
        KeyAlgorithm::Rsa { bits: 4096 }
    );

    // generate -> to_yaml -> from_yaml is the identity.
    let yaml = b.to_yaml();
    assert!(yaml.starts_with("cluster:\n    id: "));
    assert!(yaml.contains("\nsecrets:\n    bootstraptoken: "));
    assert!(!yaml.contains("aescbcencryptionsecret"));
    let again = SecretsBundle::from_yaml(&yaml).unwrap();
    assert_eq!(again, b);
    assert_eq!(again.to_yaml(), yaml);

    // Two bundles share nothing.
    let other = SecretsBundle::generate(VersionContract::new(1, 6)).unwrap();
    assert_ne!(other.cluster_id(), b.cluster_id());
    assert_ne!(other.os_ca_crt_b64(), b.os_ca_crt_b64());
}

#[test]
fn older_contracts_get_ecdsa_service_accounts_and_aescbc() {
    let b16 = SecretsBundle::generate(VersionContract::new(1, 6)).unwrap();
    assert_eq!(b16.service_account_key_algorithm(), KeyAlgorithm::EcdsaP256);
    assert_go_sec1_p256(&pem_der(
        b16.service_account_key_pem().expose(),
        "EC PRIVATE KEY",
    ));
    assert!(b16.secretbox_secret().is_some());

    let b12 = SecretsBundle::generate(VersionContract::new(1, 2)).unwrap();
    assert!(b12.secretbox_secret().is_none());
    let aescbc = b12.aescbc_secret().unwrap();
    assert_eq!(STANDARD.decode(aescbc.expose()).unwrap().len(), 32);
    let yaml = b12.to_yaml();
    assert!(yaml.contains("\n    aescbcencryptionsecret: "));
    assert_eq!(SecretsBundle::from_yaml(&yaml).unwrap(), b12);

    // (The 1.14 cluster-id alphabet is unit-tested: generating for 1.14
    // would cost a second RSA-4096 key.)

    assert!(matches!(
        SecretsBundle::generate(VersionContract::new(0, 14)),
        Err(SecretsError::UnsupportedContract { .. })
    ));
}

/// Every secret string of the reference bundle, for "never in a message".
fn reference_secrets() -> Vec<String> {
    let b = reference();
    let mut out = vec![
        b.cluster_id().expose().to_string(),
        b.cluster_secret().expose().to_string(),
        b.bootstrap_token().expose().to_string(),
        b.trustd_token().expose().to_string(),
        b.secretbox_secret().unwrap().expose().to_string(),
    ];
    for key in [
        b.os_ca_key_b64(),
        b.k8s_ca_key_b64(),
        b.etcd_ca_key_b64(),
        b.aggregator_ca_key_b64(),
        b.service_account_key_b64(),
    ] {
        out.push(key.expose().to_string());
        // any line of the PEM body, too
        let pem = String::from_utf8(STANDARD.decode(key.expose()).unwrap()).unwrap();
        out.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    out
}

fn assert_no_secret(text: &str) {
    for secret in reference_secrets() {
        assert!(!text.contains(&secret), "leaked a secret in: {text}");
    }
    assert!(
        !text.contains("PRIVATE KEY-----"),
        "leaked key material in: {text}"
    );
}

fn replace_value(path: &[&str], new_value: &str) -> String {
    // Indentation-based: the reference is talosctl's fixed layout.
    let mut depth = 0;
    let mut out = String::new();
    for line in read(REFERENCE_PATH).lines() {
        let indent = line.len() - line.trim_start().len();
        let key = line.trim_start().split(':').next().unwrap_or("");
        let mut replaced = false;
        if depth < path.len() && indent == depth * 4 && key == path[depth] {
            depth += 1;
            if depth == path.len() {
                out.push_str(&format!("{}{}: {}\n", " ".repeat(indent), key, new_value));
                replaced = true;
            }
        }
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(depth, path.len(), "path {path:?} not found");
    out
}

#[test]
fn tampered_bundles_are_rejected_naming_the_field() {
    let b = reference();

    // The k8s CA with the etcd CA's key.
    let text = replace_value(&["certs", "k8s", "key"], b.etcd_ca_key_b64().expose());
    let err = SecretsBundle::from_yaml(&text).unwrap_err();
    assert!(
        matches!(&err, SecretsError::KeyMismatch { field } if field == "certs.k8s"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`certs.k8s`"));
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));

    // The OS CA (Ed25519) with an ECDSA key: a mismatch too.
    let text = replace_value(&["certs", "os", "key"], b.k8s_ca_key_b64().expose());
    let err = SecretsBundle::from_yaml(&text).unwrap_err();
    assert!(
        matches!(&err, SecretsError::KeyMismatch { field } if field == "certs.os"),
        "{err:?}"
    );

    // A key in a PEM label Talos does not read.
    let relabelled = b
        .os_ca()
        .key_pem()
        .expose()
        .replace("ED25519 PRIVATE KEY", "PRIVATE KEY");
    let text = replace_value(&["certs", "os", "key"], &STANDARD.encode(relabelled));
    let err = SecretsBundle::from_yaml(&text).unwrap_err();
    assert!(
        matches!(&err, SecretsError::Invalid { field, .. } if field == "certs.os.key"),
        "{err:?}"
    );
    assert!(err.to_string().contains("ED25519 PRIVATE KEY"));
    assert_no_secret(&err.to_string());

    // A leaf certificate where a CA belongs.
    let leaf = b
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    let text = replace_value(&["certs", "os", "crt"], &STANDARD.encode(&leaf.crt_pem));
    let err = SecretsBundle::from_yaml(&text).unwrap_err();
    assert!(
        matches!(&err, SecretsError::Invalid { field, .. } if field == "certs.os.crt"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a CA"));

    // Not base64, not a certificate.
    for (path, value, field) in [
        (
            &["certs", "etcd", "crt"][..],
            "not base64!",
            "certs.etcd.crt",
        ),
        (&["certs", "etcd", "crt"][..], "aGVsbG8=", "certs.etcd.crt"),
        (
            &["certs", "k8sserviceaccount", "key"][..],
            "aGVsbG8=",
            "certs.k8sserviceaccount.key",
        ),
        (
            &["secrets", "bootstraptoken"][..],
            "INN7OL.u4ehnti8qyls9ymo",
            "secrets.bootstraptoken",
        ),
        (
            &["secrets", "secretboxencryptionsecret"][..],
            "aGVsbG8=",
            "secrets.secretboxencryptionsecret",
        ),
        (&["cluster", "id"][..], "\"%%%\"", "cluster.id"),
    ] {
        let err = SecretsBundle::from_yaml(&replace_value(path, value)).unwrap_err();
        assert!(
            matches!(&err, SecretsError::Invalid { field: f, .. } if f == field),
            "{path:?}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("`{field}`")));
        assert_no_secret(&err.to_string());
    }

    // Missing and unknown fields.
    let reference_text = read(REFERENCE_PATH);
    let without_token =
        reference_text.replace("    token: d8cwfa.eyvpi0xwxyarbfid\n", "    token: \"\"\n");
    let err = SecretsBundle::from_yaml(&without_token).unwrap_err();
    assert!(
        matches!(&err, SecretsError::Missing { field } if field == "trustdinfo.token"),
        "{err:?}"
    );
    let with_extra = reference_text.replace("certs:\n", "certs:\n    kubelet:\n        crt: x\n");
    let err = SecretsBundle::from_yaml(&with_extra).unwrap_err();
    assert!(
        matches!(&err, SecretsError::UnknownField { field } if field == "certs.kubelet"),
        "{err:?}"
    );
    let both = reference_text.replace(
        "    bootstraptoken:",
        "    aescbcencryptionsecret: 45yd2Ke+sytiICojDf8aibTfgt99nzJmO53cjDqrCto=\n    bootstraptoken:",
    );
    assert!(SecretsBundle::from_yaml(&both).is_err());
    assert!(matches!(
        SecretsBundle::from_yaml("cluster: [").unwrap_err(),
        SecretsError::Parse { .. }
    ));
    assert!(matches!(
        SecretsBundle::from_yaml("").unwrap_err(),
        SecretsError::Parse { .. }
    ));
}

#[test]
fn admin_client_cert_is_signed_by_the_os_ca() {
    let b = reference();
    let before = OffsetDateTime::now_utc();
    let cert = b
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    let ca = b.os_ca().info();
    let i = info(&cert.crt_pem);
    assert_eq!(i.issuer, ca.subject);
    assert_eq!(i.issuer.organizations, vec!["talos"]);
    assert_eq!(i.subject.organizations, vec!["os:admin"]);
    assert_eq!(i.subject.common_name, None);
    assert_eq!(i.signature_algorithm, SignatureAlgorithm::Ed25519);
    assert_eq!(i.key_algorithm, KeyAlgorithm::Ed25519);
    assert_eq!(i.authority_key_id, ca.subject_key_id);
    assert_eq!(i.subject_key_id, None);
    assert!(!i.is_ca);
    assert_eq!(i.ext_key_usage, vec![ExtKeyUsage::ClientAuth]);
    let ku = i.key_usage.unwrap();
    assert!(ku.digital_signature && !ku.key_cert_sign);
    // NotBefore is now - 10 s; NotAfter is now + validity.
    let skew = before - i.not_before;
    assert!(
        skew >= time::Duration::seconds(9) && skew <= time::Duration::seconds(12),
        "{skew}"
    );
    let lifetime = i.not_after - i.not_before;
    assert!(
        (lifetime - DEFAULT_CLIENT_CERT_VALIDITY - time::Duration::seconds(10)).abs()
            <= time::Duration::seconds(2)
    );
    assert!(i.not_after > ca.not_before && i.not_before >= ca.not_before);
    // The key: Ed25519 in Talos's label, and it is the certificate's key.
    assert_go_pkcs8_ed25519(&pem_der(cert.key_pem.expose(), "ED25519 PRIVATE KEY"));
    let relabelled = cert
        .key_pem
        .expose()
        .replace("ED25519 PRIVATE KEY", "PRIVATE KEY");
    let key = rcgen::KeyPair::from_pem(&relabelled).unwrap();
    assert!(key.is_compatible(&rcgen::PKCS_ED25519));
    // x509-parser (inside rcgen) reads the leaf.
    rcgen::Issuer::from_ca_cert_pem(&cert.crt_pem, key).expect("x509-parser reads the leaf");

    // One O per role.
    let multi = b
        .admin_client_cert(&["os:reader", "os:etcd:backup"], Duration::from_secs(3600))
        .unwrap();
    let mut orgs = info(&multi.crt_pem).subject.organizations;
    orgs.sort();
    assert_eq!(orgs, vec!["os:etcd:backup", "os:reader"]);

    assert!(matches!(
        b.admin_client_cert(&[], DEFAULT_CLIENT_CERT_VALIDITY),
        Err(SecretsError::InvalidInput(_))
    ));
    assert!(b.admin_client_cert(&[ROLE_ADMIN], Duration::ZERO).is_err());
    assert!(matches!(
        b.admin_client_cert(&[ROLE_ADMIN], Duration::MAX),
        Err(SecretsError::InvalidInput(_))
    ));
}

#[test]
fn talosconfig_is_talosctls_format() {
    let b = reference();
    let cert = b
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    let endpoints = vec!["10.0.0.11".to_string(), "10.0.0.12".to_string()];
    let nodes = vec!["10.0.0.11".to_string()];
    let config = b.talosconfig("lab", &endpoints, &nodes, &cert);
    assert_eq!(format!("{config:?}"), "Secret((sensitive value))");
    let text = config.expose();
    assert!(text.starts_with(
        "context: lab\ncontexts:\n    lab:\n        endpoints:\n            - 10.0.0.11\n"
    ));
    assert_eq!(yaml_str(text, "context"), "lab");
    assert_eq!(yaml_str(text, "contexts.lab.endpoints.1"), "10.0.0.12");
    assert_eq!(yaml_str(text, "contexts.lab.nodes.0"), "10.0.0.11");
    assert_eq!(yaml_str(text, "contexts.lab.ca"), b.os_ca_crt_b64());
    let crt = STANDARD.decode(yaml_str(text, "contexts.lab.crt")).unwrap();
    assert_eq!(String::from_utf8(crt).unwrap(), cert.crt_pem);
    let key = STANDARD.decode(yaml_str(text, "contexts.lab.key")).unwrap();
    assert_eq!(String::from_utf8(key).unwrap(), cert.key_pem.expose());
}

#[test]
fn admin_kubeconfig_is_signed_by_the_kubernetes_ca() {
    let b = reference();
    let kubeconfig = b
        .admin_kubeconfig("base", "https://base:6443", DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    assert_eq!(format!("{kubeconfig:?}"), "Secret((sensitive value))");
    let text = kubeconfig.expose();
    let y = |path: &str| yaml_str(text, path);
    assert_eq!(y("apiVersion"), "v1");
    assert_eq!(y("kind"), "Config");
    assert_eq!(y("clusters.0.name"), "base");
    assert_eq!(y("clusters.0.cluster.server"), "https://base:6443");
    assert_eq!(
        y("clusters.0.cluster.certificate-authority-data"),
        b.k8s_ca_crt_b64()
    );
    assert_eq!(y("users.0.name"), "admin@base");
    assert_eq!(y("contexts.0.name"), "admin@base");
    assert_eq!(y("contexts.0.context.cluster"), "base");
    assert_eq!(y("contexts.0.context.user"), "admin@base");
    assert_eq!(y("contexts.0.context.namespace"), "default");
    assert_eq!(y("current-context"), "admin@base");

    let crt = String::from_utf8(
        STANDARD
            .decode(y("users.0.user.client-certificate-data"))
            .unwrap(),
    )
    .unwrap();
    let key =
        String::from_utf8(STANDARD.decode(y("users.0.user.client-key-data")).unwrap()).unwrap();
    let i = info(&crt);
    let ca = b.k8s_ca().info();
    assert_eq!(i.issuer, ca.subject);
    assert_eq!(i.issuer.organizations, vec!["kubernetes"]);
    assert_eq!(i.subject.organizations, vec!["system:masters"]);
    assert_eq!(i.subject.common_name.as_deref(), Some("admin"));
    assert_eq!(i.signature_algorithm, SignatureAlgorithm::EcdsaSha256);
    assert_eq!(i.key_algorithm, KeyAlgorithm::EcdsaP256);
    assert_eq!(i.authority_key_id, ca.subject_key_id);
    assert_eq!(i.ext_key_usage, vec![ExtKeyUsage::ClientAuth]);
    let ku = i.key_usage.unwrap();
    assert!(ku.digital_signature && ku.key_encipherment && !ku.key_cert_sign);
    assert!(!i.is_ca);
    let skew = OffsetDateTime::now_utc() - i.not_before;
    assert!(
        skew >= time::Duration::seconds(9) && skew <= time::Duration::seconds(12),
        "{skew}"
    );
    assert_go_sec1_p256(&pem_der(&key, "EC PRIVATE KEY"));

    assert!(b
        .admin_kubeconfig("", "https://base:6443", DEFAULT_CLIENT_CERT_VALIDITY)
        .is_err());
}

#[test]
fn debug_shows_no_key_material() {
    let b = reference();
    let debug = format!("{b:?}");
    assert_no_secret(&debug);
    assert!(!debug.contains("LS0t"), "no base64 PEM: {debug}");
    assert!(debug.contains("O=talos"), "CA subjects are shown: {debug}");
    let alt = format!("{b:#?}");
    assert_no_secret(&alt);

    let cert: ClientCert = b
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    let debug = format!("{cert:?}");
    assert!(!debug.contains("PRIVATE KEY"));
}

/// The signatures themselves, checked with an independent verifier: every
/// CA of the reference bundle is self-signed, the admin client certificate
/// is signed by the OS CA (Ed25519) and the kubeconfig's client certificate
/// by the Kubernetes CA (ECDSA P-256).
#[test]
fn signatures_verify_against_their_issuers() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let b = reference();
    let der_of = |pem_text: &str| pem_der(pem_text, "CERTIFICATE");
    let verify = |subject: &[u8], issuer: &[u8], what: &str| {
        let (_, s) = X509Certificate::from_der(subject).unwrap();
        let (_, i) = X509Certificate::from_der(issuer).unwrap();
        s.verify_signature(Some(i.public_key()))
            .unwrap_or_else(|e| panic!("{what}: signature does not verify: {e}"));
    };
    for (ca, what) in [
        (b.os_ca(), "os CA"),
        (b.k8s_ca(), "k8s CA"),
        (b.aggregator_ca(), "aggregator CA"),
        (b.etcd_ca(), "etcd CA"),
    ] {
        let der = der_of(ca.crt_pem());
        verify(&der, &der, what);
    }
    let admin = b
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    verify(
        &der_of(&admin.crt_pem),
        &der_of(b.os_ca().crt_pem()),
        "admin cert",
    );

    let kubeconfig = b
        .admin_kubeconfig("base", "https://base:6443", DEFAULT_CLIENT_CERT_VALIDITY)
        .unwrap();
    let crt = String::from_utf8(
        STANDARD
            .decode(yaml_str(
                kubeconfig.expose(),
                "users.0.user.client-certificate-data",
            ))
            .unwrap(),
    )
    .unwrap();
    verify(
        &der_of(&crt),
        &der_of(b.k8s_ca().crt_pem()),
        "kubeconfig client cert",
    );
    // And a certificate is not accepted against the wrong issuer.
    let client_der = der_of(&crt);
    let etcd_der = der_of(b.etcd_ca().crt_pem());
    let (_, s) = X509Certificate::from_der(&client_der).unwrap();
    let (_, wrong) = X509Certificate::from_der(&etcd_der).unwrap();
    assert!(s.verify_signature(Some(wrong.public_key())).is_err());
}

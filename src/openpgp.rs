//! Just enough OpenPGP for apt signing keys: read an ASCII-armored or
//! binary public key, give its primary keys' fingerprints, and the binary
//! ("dearmored") form apt's `Signed-By` takes.
//!
//! apt verifies the signatures itself; dockpoint only needs to show which
//! key it stores and refuse one whose fingerprint is not the expected one.
//! A full OpenPGP crate would bring dozens of crates for a packet walk and a
//! SHA-1: the fingerprint of a v4 key is SHA-1 over 0x99, the two-byte
//! length and the public-key packet's body (RFC 4880 12.2); v6 keys use
//! SHA-256 (RFC 9580 5.5.4) and are refused here, since apt's keys are v4.

use anyhow::{Result, bail};
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// A public key as apt wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The primary keys' fingerprints, upper-case hex, in file order.
    pub fingerprints: Vec<String>,
    /// The binary packets (`gpg --dearmor` output).
    pub binary: Vec<u8>,
}

impl Key {
    pub fn has(&self, fingerprint: &str) -> bool {
        let want = normalise(fingerprint);
        self.fingerprints.contains(&want)
    }

    pub fn describe(&self) -> String {
        self.fingerprints
            .iter()
            .map(|f| spaced(f))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Upper-case hex without spaces or a `0x`.
pub fn normalise(fp: &str) -> String {
    let s = fp.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// `4E2A 4871 ...`: how gpg prints a fingerprint.
pub fn spaced(fp: &str) -> String {
    fp.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Read a public key, armored or binary.
pub fn parse(bytes: &[u8]) -> Result<Key> {
    let binary = if looks_armored(bytes) {
        dearmor(bytes)?
    } else {
        bytes.to_vec()
    };
    let fingerprints = fingerprints(&binary)?;
    if fingerprints.is_empty() {
        bail!("no public key in it (an OpenPGP public key block was expected)");
    }
    Ok(Key {
        fingerprints,
        binary,
    })
}

fn looks_armored(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    memchr::memmem::find(head, b"-----BEGIN PGP").is_some()
}

fn dearmor(bytes: &[u8]) -> Result<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines().map(str::trim_end);
    let Some(begin) = lines.by_ref().position(|l| l.starts_with("-----BEGIN PGP")) else {
        bail!("no armor header");
    };
    let _ = begin;
    // Armor headers (e.g. `Version:`) end at the first blank line; a key
    // without headers starts its base64 at once.
    let mut body = String::new();
    let mut in_headers = true;
    let mut ended = false;
    for l in lines {
        if l.starts_with("-----END PGP") {
            ended = true;
            break;
        }
        if in_headers {
            if l.is_empty() {
                in_headers = false;
                continue;
            }
            if l.contains(": ") {
                continue;
            }
            in_headers = false;
        }
        if l.starts_with('=') && l.len() == 5 {
            continue; // the CRC-24 line
        }
        body.push_str(l.trim());
    }
    if !ended {
        bail!("the armor has no END line (truncated?)");
    }
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| anyhow::anyhow!("the armor's base64 is damaged: {e}"))
}

/// Walk the packets; the fingerprint of every primary public key (tag 6).
fn fingerprints(mut data: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tag, body, rest) = packet(data)?;
        if tag == 6 {
            match body.first() {
                Some(4) => out.push(v4_fingerprint(body)),
                Some(v) => bail!("a version {v} public key: only version 4 keys are read"),
                None => bail!("an empty public-key packet"),
            }
        }
        data = rest;
    }
    Ok(out)
}

fn v4_fingerprint(body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update([0x99]);
    h.update((body.len() as u16).to_be_bytes());
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// One packet: (tag, body, the rest).
fn packet(data: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let first = data[0];
    if first & 0x80 == 0 {
        bail!("not OpenPGP data (bad packet header 0x{first:02x})");
    }
    let short = || anyhow::anyhow!("truncated OpenPGP packet");
    let (tag, len, hdr): (u8, usize, usize) = if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let o1 = *data.get(1).ok_or_else(short)? as usize;
        match o1 {
            0..=191 => (tag, o1, 2),
            192..=223 => {
                let o2 = *data.get(2).ok_or_else(short)? as usize;
                (tag, ((o1 - 192) << 8) + o2 + 192, 3)
            }
            255 => {
                let b = data.get(2..6).ok_or_else(short)?;
                (
                    tag,
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                    6,
                )
            }
            _ => bail!("partial-length packets are not used in keys"),
        }
    } else {
        let tag = (first >> 2) & 0x0f;
        match first & 3 {
            0 => (tag, *data.get(1).ok_or_else(short)? as usize, 2),
            1 => {
                let b = data.get(1..3).ok_or_else(short)?;
                (tag, u16::from_be_bytes([b[0], b[1]]) as usize, 3)
            }
            2 => {
                let b = data.get(1..5).ok_or_else(short)?;
                (
                    tag,
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                    5,
                )
            }
            _ => (tag, data.len() - 1, 1),
        }
    };
    let end = hdr.checked_add(len).ok_or_else(short)?;
    let body = data.get(hdr..end).ok_or_else(short)?;
    Ok((tag, body, &data[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v4 Ed25519 public-key packet body (made up: the fingerprint is
    /// SHA-1 over the framing and the bytes, whatever they mean).
    fn key_body() -> Vec<u8> {
        let mut b = vec![4, 0x65, 0x00, 0x00, 0x01, 22];
        b.extend([9, 0x2b, 6, 1, 4, 1, 0xda, 0x47, 0x0f, 1]);
        b.extend([1, 7, 0x40]);
        b.extend([0x11; 32]);
        b
    }

    fn packet_new(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0xc0 | tag, body.len() as u8];
        p.extend(body);
        p
    }

    fn expected_fp(body: &[u8]) -> String {
        let mut framed = vec![0x99, 0, body.len() as u8];
        framed.extend(body);
        Sha1::digest(&framed)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    fn armor(bin: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bin);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\n{}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn armored_and_binary_keys_give_the_same_fingerprint_and_binary() {
        let body = key_body();
        let mut bin = packet_new(6, &body);
        bin.extend(packet_new(13, b"e2e <e2e@example.invalid>"));
        let k = parse(armor(&bin).as_bytes()).unwrap();
        assert_eq!(k.fingerprints, vec![expected_fp(&body)]);
        assert_eq!(k.binary, bin);
        assert_eq!(parse(&bin).unwrap(), k);
        assert!(k.has(&spaced(&expected_fp(&body)).to_lowercase()));
        assert!(!k.has("4E2A48715C45AEEC077B48169B29EEC9246B6CE2"));
    }

    #[test]
    fn old_format_headers_are_read() {
        let body = key_body();
        let mut bin = vec![0x99, 0, body.len() as u8];
        bin.extend(&body);
        assert_eq!(parse(&bin).unwrap().fingerprints, vec![expected_fp(&body)]);
    }

    #[test]
    fn subkeys_are_not_primary_fingerprints() {
        let body = key_body();
        let mut sub = body.clone();
        sub[1] = 0x66;
        let mut bin = packet_new(6, &body);
        bin.extend(packet_new(14, &sub));
        assert_eq!(parse(&bin).unwrap().fingerprints.len(), 1);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        for (bytes, needle) in [
            (b"<html>404</html>".to_vec(), "not OpenPGP"),
            (
                b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n".to_vec(),
                "END line",
            ),
            (
                b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"
                    .to_vec(),
                "base64",
            ),
            (packet_new(6, &key_body())[..10].to_vec(), "truncated"),
            (packet_new(13, b"only a user id"), "no public key"),
            (packet_new(6, &[6, 0, 0]), "version 6"),
        ] {
            let e = format!("{:#}", parse(&bytes).unwrap_err());
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}

#[cfg(test)]
mod real_key {
    /// A throwaway key made with `gpg --quick-gen-key` for these tests;
    /// gpg printed this fingerprint, and `gpg --dearmor` gives the binary
    /// checked against by length and prefix here.
    const ASC: &[u8] = include_bytes!("../tests/fixtures/openpgp/throwaway.asc");
    const FP: &str = "3E6C36EEF8867B65B90D2F1C3F8C75220C246CF5";

    #[test]
    fn a_key_made_by_gpg_has_the_fingerprint_gpg_prints() {
        let k = super::parse(ASC).unwrap();
        assert_eq!(k.fingerprints, vec![FP.to_string()]);
        assert_eq!(k.binary[0], 0x98, "an old-format public-key packet first");
        assert_eq!(super::parse(&k.binary).unwrap(), k);
    }
}

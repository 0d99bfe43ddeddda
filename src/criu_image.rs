//! The two things dockpoint reads from CRIU's own image files: which regular
//! files the checkpoint holds open with the size CRIU will insist on at
//! restore (`files.img`), and the restore's statistics (`stats-restore`).
//!
//! An image is an 8-byte header (CRIU's common magic, then the image's own),
//! then entries, each a little-endian u32 length and a protobuf message
//! (CRIU's `images/*.proto`). Only the few fields read here are decoded;
//! every other field is skipped by its wire type, so newer CRIUs' additions
//! do not matter. `crit decode` prints the same; it is not always installed
//! (a separate package), so dockpoint does not depend on it.

use anyhow::{Context, Result, bail};

/// `IMG_COMMON_MAGIC` ("Kiev"), first in every image but inventory's.
pub const COMMON_MAGIC: u32 = 0x5456_4319;
/// `IMG_SERVICE_MAGIC` ("Donetsk"), first in the stats files.
pub const SERVICE_MAGIC: u32 = 0x5510_5940;
/// `FILES_MAGIC` ("Chmelnitsky").
pub const FILES_MAGIC: u32 = 0x5630_3138;
/// `STATS_MAGIC` ("Ostashkov").
pub const STATS_MAGIC: u32 = 0x5709_3306;
/// `FD_TYPES__REG` in `fdinfo.proto`.
const FD_REG: u64 = 1;

/// One regular file of `files.img`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegFile {
    /// The path as the container's processes saw it (from its mount
    /// namespace's root).
    pub name: String,
    /// The size CRIU recorded, which it requires at restore (`File ... has
    /// bad size N (expect M)`). None: CRIU does not check this one
    /// (opened O_WRONLY|O_APPEND, or not a regular file).
    pub size: Option<u64>,
    /// The open flags (`O_RDWR` is 2).
    pub flags: u32,
    /// The file's mode (type and permissions), when recorded.
    pub mode: Option<u32>,
}

impl RegFile {
    /// A regular file (not a directory, device, or the like).
    pub fn is_regular(&self) -> bool {
        self.mode.is_none_or(|m| m & 0o170000 == 0o100000)
    }
}

/// CRIU's restore statistics (`stats.proto`'s `restore_stats_entry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreStats {
    pub pages_compared: u64,
    pub pages_skipped_cow: u64,
    /// Microseconds.
    pub forking_time_us: u64,
    /// Microseconds.
    pub restore_time_us: u64,
    pub pages_restored: Option<u64>,
}

/// CRIU's dump statistics (`stats.proto`'s `dump_stats_entry`), podman's
/// `--print-stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DumpStats {
    /// Microseconds to freeze the processes.
    pub freezing_time_us: u64,
    /// Microseconds they stayed frozen.
    pub frozen_time_us: u64,
    /// Microseconds to collect the memory.
    pub memdump_time_us: u64,
    /// Microseconds to write it.
    pub memwrite_time_us: u64,
    pub pages_scanned: u64,
    pub pages_written: u64,
}

/// The dump half of a `stats-dump` file.
pub fn dump_stats(image: &[u8]) -> Result<Option<DumpStats>> {
    let Some(d) = stats_half(image, 1, "stats-dump")? else {
        return Ok(None);
    };
    let mut s = DumpStats::default();
    for field in Fields::new(d) {
        match field? {
            (1, Value::Varint(v)) => s.freezing_time_us = v,
            (2, Value::Varint(v)) => s.frozen_time_us = v,
            (3, Value::Varint(v)) => s.memdump_time_us = v,
            (4, Value::Varint(v)) => s.memwrite_time_us = v,
            (5, Value::Varint(v)) => s.pages_scanned = v,
            (7, Value::Varint(v)) => s.pages_written = v,
            _ => {}
        }
    }
    Ok(Some(s))
}

/// The regular files of a `files.img`.
pub fn reg_files(image: &[u8]) -> Result<Vec<RegFile>> {
    let mut out = Vec::new();
    for entry in entries(image, FILES_MAGIC).context("files.img")? {
        let mut kind = None;
        let mut reg = None;
        for field in Fields::new(entry) {
            match field? {
                (1, Value::Varint(v)) => kind = Some(v),
                (3, Value::Bytes(b)) => reg = Some(b),
                _ => {}
            }
        }
        if kind != Some(FD_REG) {
            continue;
        }
        let Some(reg) = reg else { continue };
        let mut f = RegFile {
            name: String::new(),
            size: None,
            flags: 0,
            mode: None,
        };
        for field in Fields::new(reg) {
            match field? {
                (2, Value::Varint(v)) => f.flags = v as u32,
                (6, Value::Bytes(b)) => f.name = String::from_utf8_lossy(b).into_owned(),
                (8, Value::Varint(v)) => f.size = Some(v),
                (10, Value::Varint(v)) => f.mode = Some(v as u32),
                _ => {}
            }
        }
        out.push(f);
    }
    Ok(out)
}

/// The restore half of a `stats-restore` file.
pub fn restore_stats(image: &[u8]) -> Result<Option<RestoreStats>> {
    let Some(r) = stats_half(image, 2, "stats-restore")? else {
        return Ok(None);
    };
    let mut s = RestoreStats::default();
    for field in Fields::new(r) {
        match field? {
            (1, Value::Varint(v)) => s.pages_compared = v,
            (2, Value::Varint(v)) => s.pages_skipped_cow = v,
            (3, Value::Varint(v)) => s.forking_time_us = v,
            (4, Value::Varint(v)) => s.restore_time_us = v,
            (5, Value::Varint(v)) => s.pages_restored = Some(v),
            _ => {}
        }
    }
    Ok(Some(s))
}

/// One half of a stats file's `stats_entry`: field 1 is the dump's, 2 the
/// restore's. None when the file has no entry or not that half.
fn stats_half<'a>(image: &'a [u8], field: u64, what: &str) -> Result<Option<&'a [u8]>> {
    let Some(entry) = entries(image, STATS_MAGIC)
        .context(what.to_string())?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let mut half = None;
    for f in Fields::new(entry) {
        if let (n, Value::Bytes(b)) = f?
            && n == field
        {
            half = Some(b);
        }
    }
    Ok(half)
}

/// The entries after the header, each checked to fit in the file.
fn entries(image: &[u8], magic: u32) -> Result<Vec<&[u8]>> {
    let word = |at: usize| -> Option<u32> {
        image
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut at = match (word(0), word(4)) {
        (Some(COMMON_MAGIC | SERVICE_MAGIC), Some(m)) if m == magic => 8,
        (Some(COMMON_MAGIC | SERVICE_MAGIC), Some(m)) => {
            bail!("not the image expected (magic {m:#010x}, expected {magic:#010x})")
        }
        (Some(m), _) => bail!("not a CRIU image (magic {m:#010x})"),
        (None, _) => bail!("too short for a CRIU image ({} bytes)", image.len()),
    };
    let mut out = Vec::new();
    while at < image.len() {
        let len = word(at).with_context(|| format!("an entry's length is cut at byte {at}"))?;
        let start = at + 4;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= image.len())
            .with_context(|| {
                format!(
                    "the entry at byte {at} claims {len} bytes; the file ends at {}",
                    image.len()
                )
            })?;
        out.push(&image[start..end]);
        at = end;
    }
    Ok(out)
}

#[derive(Debug)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// A protobuf message's fields: (number, value).
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, at: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.at) else {
                bail!("a varint is cut at byte {}", self.at)
            };
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("a varint longer than 10 bytes at byte {}", self.at)
    }

    fn skip(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .with_context(|| format!("a field of {n} bytes is cut at byte {}", self.at))?;
        let b = &self.buf[self.at..end];
        self.at = end;
        Ok(b)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let r = (|| {
            let key = self.varint()?;
            let v = match key & 7 {
                0 => Value::Varint(self.varint()?),
                1 => {
                    self.skip(8)?;
                    Value::Fixed
                }
                2 => {
                    let n = self.varint()? as usize;
                    Value::Bytes(self.skip(n)?)
                }
                5 => {
                    self.skip(4)?;
                    Value::Fixed
                }
                w => bail!("wire type {w} at byte {}", self.at),
            };
            Ok((key >> 3, v))
        })();
        if r.is_err() {
            // One error, then the end.
            self.at = self.buf.len();
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf encoder just big enough to write test images.
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn field_varint(n: u64, v: u64, out: &mut Vec<u8>) {
        varint(n << 3, out);
        varint(v, out);
    }
    fn field_bytes(n: u64, b: &[u8], out: &mut Vec<u8>) {
        varint((n << 3) | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    fn image(magic: u32, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out = COMMON_MAGIC.to_le_bytes().to_vec();
        out.extend_from_slice(&magic.to_le_bytes());
        for e in entries {
            out.extend_from_slice(&(e.len() as u32).to_le_bytes());
            out.extend_from_slice(e);
        }
        out
    }
    fn reg_entry(id: u64, name: &str, flags: u64, size: Option<u64>, mode: u64) -> Vec<u8> {
        let mut reg = Vec::new();
        field_varint(1, id, &mut reg);
        field_varint(2, flags, &mut reg);
        field_varint(3, 0, &mut reg);
        field_bytes(5, &[8, 0, 16, 0], &mut reg);
        field_bytes(6, name.as_bytes(), &mut reg);
        // mnt_id is a sint32 (zigzag).
        field_varint(7, 452, &mut reg);
        if let Some(s) = size {
            field_varint(8, s, &mut reg);
        }
        field_varint(10, mode, &mut reg);
        // build_id: repeated uint32, unpacked; and a fixed64 field no
        // version writes today: both skipped.
        field_varint(11, 0xdead, &mut reg);
        varint((12 << 3) | 1, &mut reg);
        reg.extend_from_slice(&[0; 8]);
        let mut e = Vec::new();
        field_varint(1, FD_REG, &mut e);
        field_varint(2, id, &mut e);
        field_bytes(3, &reg, &mut e);
        e
    }

    /// The first entries of a files.img CRIU 4.2.1 wrote for a busybox
    /// container holding /data/journal open O_RDWR (bytes as `xxd` showed
    /// them).
    const REAL: &[u8] = &[
        0x19, 0x43, 0x56, 0x54, 0x38, 0x31, 0x30, 0x56, // magics
        0x1c, 0x00, 0x00, 0x00, 0x08, 0x02, 0x10, 0x03, 0x92, 0x01, 0x15, 0x08, 0x03, 0x10, 0x96,
        0xd2, 0xb8, 0x01, 0x18, 0x01, 0x22, 0x0a, 0x08, 0x00, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00,
        0x28, 0x00, // a pipe
        0x32, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x05, 0x1a, 0x2c, 0x08, 0x05, 0x10, 0x82, 0x80,
        0x02, 0x18, 0x00, 0x2a, 0x0a, 0x08, 0x00, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00,
        0x32, 0x0d, 0x2f, 0x64, 0x61, 0x74, 0x61, 0x2f, 0x6a, 0x6f, 0x75, 0x72, 0x6e, 0x61, 0x6c,
        0x38, 0xd4, 0x03, 0x40, 0x00, 0x50, 0xa4, 0x83, 0x02, // /data/journal
        0x22, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x06, 0x1a, 0x1c, 0x08, 0x06, 0x10, 0x00, 0x18,
        0x00, 0x2a, 0x0a, 0x08, 0x00, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x32, 0x01,
        0x2f, 0x38, 0xc4, 0x03, 0x50, 0xed, 0x83, 0x01, // "/" (a directory)
    ];

    #[test]
    fn reads_the_files_criu_wrote() {
        let files = reg_files(REAL).unwrap();
        assert_eq!(
            files,
            vec![
                RegFile {
                    name: "/data/journal".into(),
                    size: Some(0),
                    flags: 0x8002,
                    mode: Some(0o100644),
                },
                RegFile {
                    name: "/".into(),
                    size: None,
                    flags: 0,
                    mode: Some(0o40755),
                },
            ]
        );
        assert!(files[0].is_regular());
        assert!(!files[1].is_regular());
    }

    #[test]
    fn sizes_are_read_where_criu_recorded_them_and_unknown_fields_skipped() {
        let img = image(
            FILES_MAGIC,
            &[
                reg_entry(1, "/journal", 2, Some(1_048_576), 0o100644),
                reg_entry(2, "/log", 0o2001, None, 0o100644),
            ],
        );
        let files = reg_files(&img).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[0].name.as_str(), files[0].size),
            ("/journal", Some(1_048_576))
        );
        assert_eq!((files[1].name.as_str(), files[1].size), ("/log", None));
    }

    #[test]
    fn a_damaged_or_foreign_image_is_an_error_naming_what_is_wrong() {
        let img = image(
            FILES_MAGIC,
            &[reg_entry(1, "/journal", 2, Some(9), 0o100644)],
        );
        let cut = &img[..img.len() - 3];
        assert!(format!("{:#}", reg_files(cut).unwrap_err()).contains("claims"));
        let other = image(STATS_MAGIC, &[]);
        assert!(format!("{:#}", reg_files(&other).unwrap_err()).contains("not the image expected"));
        assert!(format!("{:#}", reg_files(b"abc").unwrap_err()).contains("too short"));
        assert!(format!("{:#}", reg_files(b"abcdefgh").unwrap_err()).contains("not a CRIU image"));
        // A varint that never ends inside its entry.
        let bad = image(FILES_MAGIC, &[vec![0x08, 0xff, 0xff]]);
        assert!(format!("{:#}", reg_files(&bad).unwrap_err()).contains("varint"));
    }

    #[test]
    fn reads_the_dump_statistics() {
        let mut dump = Vec::new();
        for (n, v) in [
            (1, 1200),
            (2, 85_000),
            (3, 3000),
            (4, 61_000),
            (5, 270_000),
            (6, 0),
            (7, 262_150),
            (9, 0),
        ] {
            field_varint(n, v, &mut dump);
        }
        let mut entry = Vec::new();
        field_bytes(1, &dump, &mut entry);
        let mut img = SERVICE_MAGIC.to_le_bytes().to_vec();
        img.extend_from_slice(&STATS_MAGIC.to_le_bytes());
        img.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        img.extend_from_slice(&entry);
        assert_eq!(
            dump_stats(&img).unwrap(),
            Some(DumpStats {
                freezing_time_us: 1200,
                frozen_time_us: 85_000,
                memdump_time_us: 3000,
                memwrite_time_us: 61_000,
                pages_scanned: 270_000,
                pages_written: 262_150,
            })
        );
        // A restore's stats file has no dump half.
        assert_eq!(dump_stats(&img[..8]).unwrap(), None);
    }

    /// stats-restore as CRIU 4.2.1 wrote it after a restore.
    #[test]
    fn reads_the_restore_statistics() {
        let real: &[u8] = &[
            0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x0f, 0x00, 0x00, 0x00, 0x12, 0x0d,
            0x08, 0x09, 0x10, 0x02, 0x18, 0xf1, 0x01, 0x20, 0x92, 0xf6, 0x0b, 0x28, 0x20,
        ];
        let s = restore_stats(real).unwrap().unwrap();
        assert_eq!(
            s,
            RestoreStats {
                pages_compared: 9,
                pages_skipped_cow: 2,
                forking_time_us: 241,
                restore_time_us: 195346,
                pages_restored: Some(32),
            }
        );
    }
}

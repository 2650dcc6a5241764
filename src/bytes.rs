//! Sizes in bytes as people write and read them ("512 MiB", "8 GiB"), for memory limits.

use std::fmt;

use serde::Deserialize;

const UNITS: [(&str, u64); 5] =
    [("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40)];

/// A number of bytes; in info.toml a string with a binary unit ("8 GiB", "1.5 GiB", "512 MiB")
/// or a plain integer of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl Bytes {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = (text[..split].trim(), text[split..].trim());
        let value: f64 = number.parse().map_err(|_| {
            format!("`{text}` is not a size: write a number and a unit, like \"8 GiB\" or \"512 MiB\"")
        })?;
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| name.eq_ignore_ascii_case(unit)) else {
            return Err(format!("`{text}` has an unknown unit `{unit}`: use B, KiB, MiB, GiB or TiB"));
        };
        Ok(Bytes((value * scale as f64).round() as u64))
    }

    /// Half of this machine's physical memory: the default limit of a check process, which
    /// leaves the learner's editor and desktop room when an exercise runs away.
    pub fn half_of_machine() -> Self {
        // SAFETY: sysconf only reads configuration values.
        let (pages, page_size) =
            unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
        if pages <= 0 || page_size <= 0 {
            // Unknown: the system's own out-of-memory handling is all there is.
            return Bytes(u64::MAX);
        }
        Bytes(pages as u64 * page_size as u64 / 2)
    }
}

impl fmt::Display for Bytes {
    /// "38.1 GiB", "8 GiB", "512 MiB", "100 B": one decimal where the size is not whole.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let &(name, scale) = UNITS.iter().rev().find(|(_, scale)| self.0 >= *scale).unwrap_or(&UNITS[0]);
        let value = self.0 as f64 / scale as f64;
        if self.0.is_multiple_of(scale) || value >= 100.0 {
            write!(f, "{} {name}", value.round())
        } else {
            write!(f, "{value:.1} {name}")
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Count(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Count(count) => Ok(Bytes(count)),
            Written::Text(text) => Bytes::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_fractions() {
        assert_eq!(Bytes::parse("8 GiB"), Ok(Bytes(8 << 30)));
        assert_eq!(Bytes::parse("512MiB"), Ok(Bytes(512 << 20)));
        assert_eq!(Bytes::parse("1.5 gib"), Ok(Bytes(3 << 29)));
        assert_eq!(Bytes::parse("100 B"), Ok(Bytes(100)));
        assert!(Bytes::parse("8 GB").unwrap_err().contains("unknown unit `GB`"));
        assert!(Bytes::parse("lots").unwrap_err().contains("is not a size"));
    }

    #[test]
    fn shows_sizes_as_people_write_them() {
        assert_eq!(Bytes(8 << 30).to_string(), "8 GiB");
        assert_eq!(Bytes((38.1 * (1u64 << 30) as f64) as u64).to_string(), "38.1 GiB");
        assert_eq!(Bytes(512 << 20).to_string(), "512 MiB");
        assert_eq!(Bytes(100).to_string(), "100 B");
        assert_eq!(Bytes(0).to_string(), "0 B");
    }

    #[test]
    fn half_of_the_machine_is_known_here() {
        let half = Bytes::half_of_machine();
        assert!(half.0 > 1 << 20 && half.0 < u64::MAX, "{half}");
    }
}

//! Why the runner can believe a report: it hands each check process a secret on its standard
//! input, which the harness reads (and cuts off) before any learner code runs, and the report
//! carries an HMAC-SHA256 of its text under that secret. Learner code in the same process can
//! write a report and exit, but not sign it. See docs/check-protocol.md, "Trust".

use std::io::Read;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Set by the runner when the secret waits on standard input.
pub const SECRET_VAR: &str = "TENSORLINGS_SECRET";

/// The value of [`SECRET_VAR`] that says "on standard input".
pub const SECRET_ON_STDIN: &str = "stdin";

/// The report's signature field, first after `format_version`, as the reader expects it.
pub const MAC_FIELD: &str = "\"mac\": \"";

/// Length of the signature: HMAC-SHA256 in hex.
pub const MAC_HEX_LEN: usize = 64;

static SECRET: OnceLock<Option<Vec<u8>>> = OnceLock::new();

/// Reads the runner's secret once, before learner code can: standard input to its end, then
/// standard input is replaced by /dev/null. Without [`SECRET_VAR`] (a check run by hand) there
/// is no secret and reports go unsigned.
pub fn take_secret() {
    SECRET.get_or_init(|| {
        if std::env::var(SECRET_VAR).as_deref() != Ok(SECRET_ON_STDIN) {
            return None;
        }
        let mut secret = Vec::new();
        std::io::stdin().lock().read_to_end(&mut secret).ok()?;
        cut_off_stdin();
        (!secret.is_empty()).then_some(secret)
    });
}

fn cut_off_stdin() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 of a file we hold open onto fd 0; the old pipe end is closed by it.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
        }
    }
}

/// `json` with its signature filled in: the text is made with [`MAC_FIELD`] followed by zeros,
/// and the zeros are replaced by the HMAC of that text. Unchanged without a secret.
pub fn sign(json: String) -> String {
    let Some(Some(secret)) = SECRET.get() else { return json };
    let Some(at) = json.find(MAC_FIELD).map(|i| i + MAC_FIELD.len()) else { return json };
    let mac = hex(&mac_of(secret, json.as_bytes()));
    let mut signed = json;
    signed.replace_range(at..at + MAC_HEX_LEN, &mac);
    signed
}

/// HMAC-SHA256 of `text` under `secret`.
pub fn mac_of(secret: &[u8], text: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(text);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_the_hmac_of_the_text_with_zeros_in_its_place() {
        let secret = b"a secret of the runner";
        let text = format!(
            "{{\n  \"format_version\": 1,\n  {MAC_FIELD}{}\",\n  \"checks\": []\n}}\n",
            "0".repeat(64)
        );
        let mac = mac_of(secret, text.as_bytes());
        // Known answer: HMAC-SHA256 of "" under "key", from RFC 4231's style of test vectors.
        assert_eq!(
            hex(&mac_of(b"key", b"The quick brown fox jumps over the lazy dog")),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_ne!(mac, mac_of(b"another secret", text.as_bytes()));
    }
}

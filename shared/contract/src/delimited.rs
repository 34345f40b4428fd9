//! Delimited text files (PIM CSV imports, ERP snapshots): one rule for which delimiter a
//! file uses, so that a file the import reads is read the same way as a snapshot.

/// The delimiters a file may use: comma, semicolon (German Excel), tab.
pub const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// The delimiter that occurs most often outside quotes in the header line; on a tie the
/// first of [`DELIMITERS`], and `,` when none occurs (a one-column file).
pub fn detect_delimiter(header: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &byte in header {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == byte) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_delimiter_outside_quotes_wins() {
        assert_eq!(detect_delimiter(b"sku,name.de-DE,brand\nA,B,C"), b',');
        assert_eq!(detect_delimiter(b"sku;name.de-DE;brand\n"), b';');
        assert_eq!(detect_delimiter(b"sku\tname.de-DE\tbrand\r\n"), b'\t');
        // Commas inside a quoted header name do not count.
        assert_eq!(detect_delimiter(b"\"a,b,c\";sku;x\n"), b';');
        // Only the header line counts.
        assert_eq!(detect_delimiter(b"sku;x\na,b,c,d,e\n"), b';');
        assert_eq!(detect_delimiter(b"sku\n"), b',');
        assert_eq!(detect_delimiter(b"a,b;c\td"), b',', "a tie: the first");
    }
}

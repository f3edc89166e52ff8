//! Reading a CSV file a chunk at a time, as its bytes arrive or are read
//! back: RFC 4180 records (quoted fields may hold separators, quotes and
//! newlines), a UTF-8 byte-order mark skipped, `,` `;` or tab. Each field
//! is turned into text on its own, so a field that is not valid text fails
//! its row, not the file; a record longer than [`MAX_RECORD_BYTES`] (an
//! unclosed quote swallowing the file) fails the file.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use crate::exchange::import::{Encoding, MAX_COLUMNS, SEPARATORS};

/// Longest record, in bytes.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// How much of the file's start the separator is guessed from.
pub const SNIFF_BYTES: usize = 64 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a file cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A record is over [`MAX_RECORD_BYTES`].
    #[error(
        "the record at line {line} is longer than {MAX_RECORD_BYTES} bytes (is a quote left open?)"
    )]
    RecordTooLong {
        /// Where it starts.
        line: u64,
    },
    /// A record has more than [`MAX_COLUMNS`] fields.
    #[error("the record at line {line} has more than {MAX_COLUMNS} columns")]
    TooManyColumns {
        /// Where it starts.
        line: u64,
    },
}

/// The separator a file's start uses: of `,`, `;` and tab, the one its
/// first line (outside quotes) holds most of; `,` when it holds none.
pub fn sniff_separator(start: &[u8]) -> u8 {
    let start = start.strip_prefix(BOM).unwrap_or(start);
    let mut counts = [0usize; SEPARATORS.len()];
    let mut quoted = false;
    for &byte in start.iter().take(SNIFF_BYTES) {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(index) = SEPARATORS.iter().position(|&s| s == byte) {
                    counts[index] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for index in 1..counts.len() {
        if counts[index] > counts[best] {
            best = index;
        }
    }
    SEPARATORS[best]
}

/// Whether `start` holds the whole first line (or [`SNIFF_BYTES`]), so
/// [`sniff_separator`] can decide.
pub fn can_sniff(start: &[u8]) -> bool {
    start.len() >= SNIFF_BYTES || start.contains(&b'\n')
}

/// One record, borrowed from the reader until the next is asked for.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// The line it starts on (the header is line 1).
    pub line: u64,
    bytes: &'a [u8],
    ends: &'a [usize],
    encoding: Encoding,
}

impl RawRecord<'_> {
    /// How many fields it has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it has no field.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of field `index`.
    pub fn bytes(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// Field `index` as text; `None` when it is not valid in the file's
    /// encoding.
    pub fn text(&self, index: usize) -> Option<String> {
        decode(self.bytes(index), self.encoding)
    }

    /// Every field as text, invalid ones replaced (for showing a refused row
    /// back).
    pub fn lossy(&self) -> Vec<String> {
        (0..self.len())
            .map(|index| match self.encoding {
                Encoding::Utf8 => String::from_utf8_lossy(self.bytes(index)).into_owned(),
                Encoding::Windows1252 => windows_1252(self.bytes(index)),
            })
            .collect()
    }
}

/// `bytes` as text in `encoding`.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Option<String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Encoding::Windows1252 => Some(windows_1252(bytes)),
    }
}

/// Windows-1252 differs from Latin-1 only in 0x80-0x9F; the five bytes it
/// leaves undefined read as the C1 controls of the same value, as browsers
/// read them.
fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    bytes
        .iter()
        .map(|&byte| match byte {
            0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
            _ => char::from(byte),
        })
        .collect()
}

/// Reads records out of bytes pushed in chunks.
pub struct CsvReader {
    reader: Reader,
    encoding: Encoding,
    /// Bytes pushed and not yet parsed.
    input: Vec<u8>,
    consumed: usize,
    /// Whether the file's first bytes were seen (for the BOM).
    begun: bool,
    /// Whether the end of the file was pushed.
    ended: bool,
    /// The record being read: its bytes and field ends so far.
    record: Vec<u8>,
    record_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// The line the record being read starts on; `None` until it starts.
    record_line: Option<u64>,
    /// Whether the last call handed out a record (its buffers are free).
    handed_out: bool,
    /// Line ends skipped between records (the parser never sees them).
    blank_lines: u64,
}

/// How many line feeds `bytes` holds.
fn bytecount(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte == b'\n').count() as u64
}

impl std::fmt::Debug for CsvReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvReader")
            .field("encoding", &self.encoding)
            .field("line", &self.reader.line())
            .finish_non_exhaustive()
    }
}

impl CsvReader {
    /// A reader of `separator`-separated records in `encoding`.
    pub fn new(separator: u8, encoding: Encoding) -> Self {
        Self {
            reader: ReaderBuilder::new().delimiter(separator).build(),
            encoding,
            input: Vec::new(),
            consumed: 0,
            begun: false,
            ended: false,
            record: vec![0; 4096],
            record_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            record_line: None,
            handed_out: false,
            blank_lines: 0,
        }
    }

    /// Adds the next bytes of the file.
    pub fn push(&mut self, chunk: &[u8]) {
        self.input.drain(..self.consumed);
        self.consumed = 0;
        self.input.extend_from_slice(chunk);
        self.begin();
    }

    /// Skips a UTF-8 byte-order mark once the file's first bytes are in.
    fn begin(&mut self) {
        if self.begun
            || (!self.ended && self.input.len() < BOM.len() && BOM.starts_with(&self.input))
        {
            return;
        }
        if self.encoding == Encoding::Utf8 && self.input.starts_with(BOM) {
            self.input.drain(..BOM.len());
        }
        self.begun = true;
    }

    /// Says the file has no more bytes.
    pub fn end(&mut self) {
        self.ended = true;
        self.begin();
    }

    /// The next whole record; `None` when the bytes pushed so far hold no
    /// more (push more, or [`CsvReader::end`]), or at the end of the file.
    ///
    /// # Errors
    /// [`ReadError`] when the file cannot be read on.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>, ReadError> {
        if self.handed_out {
            self.handed_out = false;
            self.record_len = 0;
            self.ends_len = 0;
            self.record_line = None;
        }
        if !self.begun {
            return Ok(None);
        }
        loop {
            let input = &self.input[self.consumed..];
            if input.is_empty() && !self.ended {
                return Ok(None);
            }
            if self.record_line.is_none() {
                // Blank lines between records are skipped here, so the
                // line a record starts on is known before it is read.
                let blank = input
                    .iter()
                    .take_while(|&&byte| byte == b'\n' || byte == b'\r')
                    .count();
                self.blank_lines += bytecount(&input[..blank]);
                self.consumed += blank;
                if self.consumed == self.input.len() && !self.ended {
                    return Ok(None);
                }
                self.record_line = Some(self.reader.line() + self.blank_lines);
            }
            let input = &self.input[self.consumed..];
            let (result, read, written, ended) = self.reader.read_record(
                input,
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            self.consumed += read;
            // The parser keeps its place in a record across calls: the field
            // ends it writes are already from the record's start.
            self.record_len += written;
            self.ends_len += ended;
            let line = self.record_line.unwrap_or(1);
            match result {
                ReadRecordResult::InputEmpty => {
                    if !self.ended {
                        return Ok(None);
                    }
                }
                ReadRecordResult::OutputFull => {
                    if self.record.len() >= MAX_RECORD_BYTES {
                        return Err(ReadError::RecordTooLong { line });
                    }
                    let grown = (self.record.len() * 2).min(MAX_RECORD_BYTES);
                    self.record.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() > MAX_COLUMNS {
                        return Err(ReadError::TooManyColumns { line });
                    }
                    let grown = (self.ends.len() * 2).min(MAX_COLUMNS + 1);
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    if self.ends_len > MAX_COLUMNS {
                        return Err(ReadError::TooManyColumns { line });
                    }
                    self.handed_out = true;
                    return Ok(Some(RawRecord {
                        line,
                        bytes: &self.record[..self.record_len],
                        ends: &self.ends[..self.ends_len],
                        encoding: self.encoding,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every record of `bytes` pushed in chunks of `size`, as text.
    fn records(bytes: &[u8], size: usize, encoding: Encoding) -> Vec<(u64, Vec<String>)> {
        let mut reader = CsvReader::new(sniff_separator(bytes), encoding);
        let mut found = Vec::new();
        let mut take = |reader: &mut CsvReader| {
            while let Some(record) = reader.next_record().unwrap() {
                found.push((record.line, record.lossy()));
            }
        };
        for chunk in bytes.chunks(size) {
            reader.push(chunk);
            take(&mut reader);
        }
        reader.end();
        take(&mut reader);
        found
    }

    #[test]
    fn records_are_the_same_however_the_bytes_are_cut() {
        let file = "\u{FEFF}name;email;note\r\nAna;ana@example.com;\"says \"\"hi\"\";\nand bye\"\r\n\r\nBo;bo@example.com;x";
        let whole = records(file.as_bytes(), file.len(), Encoding::Utf8);
        assert_eq!(
            whole,
            [
                (1, vec!["name".into(), "email".into(), "note".into()]),
                (
                    2,
                    vec![
                        "Ana".into(),
                        "ana@example.com".into(),
                        "says \"hi\";\nand bye".into()
                    ]
                ),
                (5, vec!["Bo".into(), "bo@example.com".into(), "x".into()]),
            ]
        );
        for size in [1, 2, 3, 7] {
            assert_eq!(records(file.as_bytes(), size, Encoding::Utf8), whole);
        }
    }

    #[test]
    fn the_separator_is_the_one_the_header_holds_most_of() {
        assert_eq!(sniff_separator(b"a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_separator(b"\"a,b\";c;d\n"), b';');
        assert_eq!(sniff_separator(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_separator(b"name\n"), b',');
        assert!(!can_sniff(b"a,b"));
        assert!(can_sniff(b"a,b\r\n"));
    }

    #[test]
    fn windows_1252_reads_its_own_letters_and_bad_utf8_fails_only_its_field() {
        let file = b"name,city\nJos\xe9 \x80,S\xe3o Paulo\n";
        let read = records(file, 4, Encoding::Windows1252);
        assert_eq!(read[1].1, ["José €", "São Paulo"]);

        let mut reader = CsvReader::new(b',', Encoding::Utf8);
        reader.push(file);
        reader.end();
        let _header = reader.next_record().unwrap().unwrap().text(0);
        let row = reader.next_record().unwrap().unwrap();
        assert_eq!(row.text(0), None);
        assert_eq!(row.text(1), None);
    }

    #[test]
    fn an_unclosed_quote_fails_the_file_at_its_line() {
        let mut file = b"name\n\"open\n".to_vec();
        file.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let mut reader = CsvReader::new(b',', Encoding::Utf8);
        reader.push(&file);
        reader.end();
        assert!(reader.next_record().unwrap().is_some());
        assert_eq!(
            reader.next_record().unwrap_err(),
            ReadError::RecordTooLong { line: 2 }
        );
    }

    #[test]
    fn too_many_columns_fail_the_file() {
        let row = vec!["x"; MAX_COLUMNS + 1].join(",");
        let mut reader = CsvReader::new(b',', Encoding::Utf8);
        reader.push(row.as_bytes());
        reader.end();
        assert_eq!(
            reader.next_record().unwrap_err(),
            ReadError::TooManyColumns { line: 1 }
        );
    }
}

//! Splitting a child's output stream into lines with bounded memory.
//!
//! Bytes arrive in arbitrary chunks. Complete lines are handed on whole, so
//! stdout and stderr interleave in the log line by line. A line longer than
//! the buffer (a child printing megabytes without a newline) is handed on in
//! pieces of at most `max` bytes as it arrives, so memory stays bounded and
//! nothing is dropped.

/// A piece of output handed on by [`LineBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// A whole line, with its `\n`, no longer than the buffer: a candidate
    /// for the reporting protocol.
    Line(&'a [u8]),
    /// Part of a line too long for the buffer, or the unterminated last line
    /// at the end of the stream: logged, never read as a report.
    Fragment(&'a [u8]),
}

impl Piece<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Piece::Line(bytes) | Piece::Fragment(bytes) => bytes,
        }
    }
}

pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
    /// The bytes in `buf` continue a line already handed on in part.
    continuing: bool,
}

impl LineBuffer {
    pub(crate) fn new(max: usize) -> LineBuffer {
        LineBuffer {
            buf: Vec::new(),
            max: max.max(1),
            continuing: false,
        }
    }

    /// Takes the next chunk of the stream and hands on every piece it
    /// completes. The buffer never holds more than `max` bytes.
    pub(crate) fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(Piece<'_>)) {
        while !data.is_empty() {
            let room = self.max - self.buf.len();
            let window = &data[..room.min(data.len())];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                self.buf.extend_from_slice(&data[..=i]);
                if self.continuing {
                    emit(Piece::Fragment(&self.buf));
                } else {
                    emit(Piece::Line(&self.buf));
                }
                self.buf.clear();
                self.continuing = false;
                data = &data[i + 1..];
            } else if data.len() < room {
                self.buf.extend_from_slice(data);
                return;
            } else {
                self.buf.extend_from_slice(window);
                emit(Piece::Fragment(&self.buf));
                self.buf.clear();
                self.continuing = true;
                data = &data[room..];
            }
        }
    }

    /// The stream ended: hands on an unterminated last line, if any.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(Piece<'_>)) {
        if !self.buf.is_empty() {
            emit(Piece::Fragment(&self.buf));
            self.buf.clear();
        }
        self.continuing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Owned {
        Line(String),
        Fragment(String),
    }

    fn run(max: usize, chunks: &[&str]) -> Vec<Owned> {
        let mut lines = LineBuffer::new(max);
        let mut out = Vec::new();
        let mut collect = |piece: Piece<'_>| {
            let text = String::from_utf8(piece.bytes().to_vec()).unwrap();
            out.push(match piece {
                Piece::Line(_) => Owned::Line(text),
                Piece::Fragment(_) => Owned::Fragment(text),
            });
        };
        for chunk in chunks {
            lines.push(chunk.as_bytes(), &mut collect);
        }
        lines.finish(&mut collect);
        out
    }

    fn line(s: &str) -> Owned {
        Owned::Line(s.into())
    }

    fn fragment(s: &str) -> Owned {
        Owned::Fragment(s.into())
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            run(64, &["a\nb", "c\n", "\n", "d"]),
            [line("a\n"), line("bc\n"), line("\n"), fragment("d")]
        );
    }

    #[test]
    fn a_line_of_exactly_the_buffer_size_is_whole() {
        assert_eq!(run(4, &["abc\nx"]), [line("abc\n"), fragment("x")]);
    }

    #[test]
    fn long_lines_come_out_in_bounded_pieces_and_the_next_line_is_whole() {
        assert_eq!(
            run(4, &["abcdefghij\n::summary\n"]),
            [
                fragment("abcd"),
                fragment("efgh"),
                fragment("ij\n"),
                // Longer than the buffer, so it is a fragment too.
                fragment("::su"),
                fragment("mmar"),
                fragment("y\n"),
            ]
        );
        assert_eq!(
            run(4, &["abcde", "f\nok\n"]),
            [fragment("abcd"), fragment("ef\n"), line("ok\n")]
        );
    }

    #[test]
    fn every_byte_is_handed_on_once() {
        let input: String = (0..5000)
            .map(|i| if i % 97 == 0 { '\n' } else { 'x' })
            .collect();
        for max in [1, 2, 7, 64, 200] {
            for chunk in [1, 3, 50, 4096] {
                let chunks: Vec<&str> = input
                    .as_bytes()
                    .chunks(chunk)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                let joined: String = run(max, &chunks)
                    .into_iter()
                    .map(|piece| match piece {
                        Owned::Line(s) | Owned::Fragment(s) => {
                            assert!(s.len() <= max);
                            s
                        }
                    })
                    .collect();
                assert_eq!(joined, input, "max {max}, chunk {chunk}");
            }
        }
    }
}

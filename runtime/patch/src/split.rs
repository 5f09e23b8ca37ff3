//! Splitting a script into statements, the way the database's own client would.
//!
//! The splitter only knows what it must to find statement boundaries: quotes, comments,
//! PostgreSQL dollar quotes, `BEGIN … END` bodies of triggers and routines, and the MySQL client's
//! `DELIMITER` command. It never fails: an unterminated quote or comment runs to the end of the
//! file and is reported as a [`SplitProblem`], so the caller can say so instead of silently
//! losing the rest of the script.

use std::fmt;

use crate::class::Dialect;
use crate::marker::{marker_name, MARKER_PREFIX, RAW};

/// One statement of a script, with where it starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement {
    /// The statement as written, comments inside it included, without its terminator and
    /// without trailing whitespace. It is exactly `script[offset..offset + text.len()]`.
    pub text: String,
    /// 1-based line of the statement's first character (comments before it do not count).
    pub line: usize,
    /// 1-based column of that character, counted in characters (as sqlparser counts them).
    pub column: usize,
    /// Byte offset of that character in the script.
    pub offset: usize,
    /// The `-- bascule:<directive>` comments that belong to this statement: those between the
    /// previous statement and this one, those inside it, and one on the same line right after
    /// its terminator. Each entry is the directive after `bascule:`, trimmed: `raw`,
    /// `allow drop-column: the column is unused since 2.2`, …
    pub markers: Vec<String>,
    /// The statement carries a `-- bascule:raw` marker: it is not parsed, only counted as unchecked.
    pub raw: bool,
}

impl SqlStatement {
    /// Whether one of the statement's markers is the directive `name` (`raw`, `allow`, …): the
    /// directive's first word, ended by whitespace, `:` or `(`.
    pub fn has_marker(&self, name: &str) -> bool {
        self.markers.iter().any(|m| marker_name(m) == name)
    }

    /// Byte offset just past the statement's text (where its terminator, if any, starts).
    pub fn end(&self) -> usize {
        self.offset + self.text.len()
    }
}

/// Something in the script that stops the splitter from being sure of the boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitProblem {
    /// Byte offset of the construct at fault (the opening quote, the `DELIMITER` word, …).
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SplitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// The result of splitting a script: its statements and what looked wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub statements: Vec<SqlStatement>,
    pub problems: Vec<SplitProblem>,
}

/// The statements of `sql`, in order; statements made only of comments and whitespace are dropped.
pub fn split_statements(sql: &str, dialect: Dialect) -> Vec<SqlStatement> {
    split_script(sql, dialect).statements
}

/// Like [`split_statements`], with the problems found on the way (unterminated quotes and
/// comments, a `DELIMITER` without its argument).
pub fn split_script(sql: &str, dialect: Dialect) -> Split {
    Splitter::new(sql, dialect).run()
}

/// 1-based line and column (in characters) of byte offsets in a text.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    /// `(line, column)` of a byte offset, both 1-based; the column counts characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// The statement being read.
struct Current {
    start: usize,
    markers: Vec<String>,
    /// Words seen at the top level of the statement so far.
    words: usize,
    /// The first word is `CREATE`.
    create: bool,
    /// A `CREATE … TRIGGER|PROCEDURE|FUNCTION|EVENT`: its body may hold `BEGIN … END`.
    has_body: bool,
    /// Open `BEGIN`/`CASE` blocks: a `;` inside them does not end the statement.
    depth: usize,
}

struct Splitter<'a> {
    sql: &'a str,
    b: &'a [u8],
    i: usize,
    dialect: Dialect,
    lines: LineIndex<'a>,
    delimiter: String,
    current: Option<Current>,
    /// Markers seen before the next statement starts.
    pending: Vec<String>,
    /// Nothing but spaces since the last terminator, on its line: a `--` comment here belongs to
    /// the statement just ended.
    after_terminator: bool,
    out: Split,
}

/// Characters that make up words (keywords, identifiers, numbers). Bytes of multi-byte
/// characters count, so a word never stops inside a character.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl<'a> Splitter<'a> {
    fn new(sql: &'a str, dialect: Dialect) -> Self {
        Splitter {
            sql,
            b: sql.as_bytes(),
            i: 0,
            dialect,
            lines: LineIndex::new(sql),
            delimiter: ";".to_string(),
            current: None,
            pending: Vec::new(),
            after_terminator: false,
            out: Split::default(),
        }
    }

    fn run(mut self) -> Split {
        while self.i < self.b.len() {
            self.step();
        }
        self.finish(self.b.len());
        self.out
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn problem(&mut self, offset: usize, message: String) {
        let (line, column) = self.lines.position(offset);
        self.out.problems.push(SplitProblem {
            offset,
            line,
            column,
            message,
        });
    }

    fn line_end(&self, from: usize) -> usize {
        self.b[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.b.len(), |p| from + p)
    }

    fn step(&mut self) {
        let c = self.b[self.i];
        if c.is_ascii_whitespace() {
            if c == b'\n' {
                self.after_terminator = false;
            }
            self.i += 1;
            return;
        }
        if self.line_comment_here() {
            self.line_comment();
            return;
        }
        if c == b'/' && self.at(self.i + 1) == b'*' {
            // MySQL runs the content of `/*! … */`: it is part of a statement, not a comment
            // around nothing.
            if self.dialect == Dialect::Mysql && self.at(self.i + 2) == b'!' {
                self.start_statement();
            }
            self.block_comment();
            return;
        }
        if self.dialect == Dialect::Mysql && self.current.is_none() && self.delimiter_command() {
            return;
        }
        let in_block = self.current.as_ref().is_some_and(|c| c.depth > 0);
        if !in_block && self.sql[self.i..].starts_with(self.delimiter.as_str()) {
            let end = self.i;
            self.finish(end);
            self.i += self.delimiter.len();
            self.after_terminator = true;
            return;
        }
        self.start_statement();
        match c {
            b'\'' => self.quoted(b'\'', self.dialect == Dialect::Mysql),
            b'"' => self.quoted(b'"', self.dialect == Dialect::Mysql),
            b'`' => self.quoted(b'`', false),
            b'[' if self.dialect == Dialect::Sqlite => self.quoted(b']', false),
            b'$' if self.dialect == Dialect::Postgres => self.dollar(),
            c if is_word_start(c) => self.word(),
            _ => self.i += 1,
        }
    }

    /// Starts a statement at `self.i` unless one is being read.
    fn start_statement(&mut self) {
        if self.current.is_none() {
            self.current = Some(Current {
                start: self.i,
                markers: std::mem::take(&mut self.pending),
                words: 0,
                create: false,
                has_body: false,
                depth: 0,
            });
            self.after_terminator = false;
        }
    }

    /// `--` starts a comment; in MySQL only when followed by a space or control character, and
    /// `#` starts one too.
    fn line_comment_here(&self) -> bool {
        let c = self.b[self.i];
        if c == b'-' && self.at(self.i + 1) == b'-' {
            return self.dialect != Dialect::Mysql || {
                let next = self.at(self.i + 2);
                next == 0 || next.is_ascii_whitespace() || next.is_ascii_control()
            };
        }
        c == b'#' && self.dialect == Dialect::Mysql
    }

    fn line_comment(&mut self) {
        let end = self.line_end(self.i);
        let comment = &self.sql[self.i..end];
        self.i = end;
        let Some(marker) = comment
            .strip_prefix("--")
            .map(str::trim_start)
            .and_then(|c| c.strip_prefix(MARKER_PREFIX))
        else {
            return;
        };
        let marker = marker.trim().to_string();
        if let Some(current) = &mut self.current {
            current.markers.push(marker);
        } else if self.after_terminator && !self.out.statements.is_empty() {
            if let Some(last) = self.out.statements.last_mut() {
                last.raw |= marker_name(&marker) == RAW;
                last.markers.push(marker);
            }
        } else {
            self.pending.push(marker);
        }
    }

    /// `/* … */`; PostgreSQL nests them.
    fn block_comment(&mut self) {
        let open = self.i;
        let nests = self.dialect == Dialect::Postgres;
        let mut depth = 0usize;
        while self.i < self.b.len() {
            if self.b[self.i] == b'/' && self.at(self.i + 1) == b'*' {
                if depth == 0 || nests {
                    depth += 1;
                }
                self.i += 2;
            } else if self.b[self.i] == b'*' && self.at(self.i + 1) == b'/' {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.i += 1;
            }
        }
        self.problem(
            open,
            "this /* comment is never closed: the rest of the file is inside it".into(),
        );
    }

    /// The mysql client's `DELIMITER <terminator>` line, at the start of a line between
    /// statements. Returns whether there was one (it is consumed).
    fn delimiter_command(&mut self) -> bool {
        const WORD: &str = "delimiter";
        let start = self.i;
        let line_start = self.sql[..start].rfind('\n').map_or(0, |p| p + 1);
        let at_line_start = self.sql[line_start..start]
            .bytes()
            .all(|b| b == b' ' || b == b'\t');
        let is_word = self
            .sql
            .get(start..start + WORD.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(WORD))
            && !is_word_byte(self.at(start + WORD.len()));
        if !at_line_start || !is_word {
            return false;
        }
        let end = self.line_end(start);
        let argument = self.sql[start + WORD.len()..end].split_whitespace().next();
        match argument {
            Some(delimiter) => self.delimiter = delimiter.to_string(),
            None => self.problem(
                start,
                "DELIMITER needs the new terminator, e.g. `DELIMITER //` (and `DELIMITER ;` to go back)"
                    .into(),
            ),
        }
        self.i = end;
        true
    }

    /// A quoted string or identifier opened at `self.i`, closed by `close`; a doubled `close`
    /// stands for itself, and a backslash escapes the next character if `backslash`.
    fn quoted(&mut self, close: u8, backslash: bool) {
        let open = self.i;
        self.i += 1;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            if backslash && c == b'\\' {
                self.i += 2;
            } else if c == close {
                if self.at(self.i + 1) == close && close != b']' {
                    self.i += 2;
                } else {
                    self.i += 1;
                    return;
                }
            } else {
                self.i += 1;
            }
        }
        self.i = self.b.len();
        let what = match self.b[open] {
            b'\'' => "string",
            b'"' if self.dialect == Dialect::Mysql => "string",
            _ => "quoted identifier",
        };
        self.problem(
            open,
            format!(
                "this {what} (opened by {}) is never closed: the rest of the file is inside it",
                self.b[open] as char
            ),
        );
    }

    /// PostgreSQL `$$ … $$` or `$tag$ … $tag$`; any other `$` (a parameter like `$1`) is a
    /// plain character.
    fn dollar(&mut self) {
        let open = self.i;
        let tag_len = self.b[open + 1..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
            .count();
        let tag_end = open + 1 + tag_len;
        let valid_tag = self.at(tag_end) == b'$' && !self.at(open + 1).is_ascii_digit();
        if !valid_tag {
            self.i += 1;
            return;
        }
        let tag = &self.sql[open..=tag_end];
        let body = tag_end + 1;
        match self.sql[body..].find(tag) {
            Some(p) => self.i = body + p + tag.len(),
            None => {
                self.i = self.b.len();
                let tag = tag.to_string();
                self.problem(
                    open,
                    format!("this {tag} quote is never closed: the rest of the file is inside it"),
                );
            }
        }
    }

    /// A keyword, identifier or number at the top level of the statement.
    fn word(&mut self) {
        let start = self.i;
        // A custom delimiter may be made of word bytes (`$$` after `DELIMITER $$`): `END$$`
        // is the word `END` followed by the delimiter, so the word stops where one starts.
        let custom = self.delimiter != ";";
        while self.i < self.b.len()
            && is_word_byte(self.b[self.i])
            && !(custom
                && self.i > start
                && self.b[self.i..].starts_with(self.delimiter.as_bytes()))
        {
            self.i += 1;
        }
        let word = &self.sql[start..self.i];
        // PostgreSQL escape strings, E'…', take backslash escapes.
        if self.dialect == Dialect::Postgres
            && word.eq_ignore_ascii_case("e")
            && self.at(self.i) == b'\''
        {
            self.quoted(b'\'', true);
            return;
        }
        let after_dot = start > 0 && self.b[start - 1] == b'.';
        let tracks_blocks = self.delimiter == ";";
        let (next, next_end) = self.next_word();
        let Some(current) = &mut self.current else {
            return;
        };
        current.words += 1;
        if current.words == 1 {
            current.create = word.eq_ignore_ascii_case("create");
        } else if current.create
            && current.words <= 8
            && ["trigger", "procedure", "function", "event"]
                .iter()
                .any(|k| word.eq_ignore_ascii_case(k))
        {
            current.has_body = true;
        }
        if !current.has_body || !tracks_blocks || after_dot {
            return;
        }
        if word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("case") {
            current.depth += 1;
        } else if word.eq_ignore_ascii_case("end") {
            // MySQL's `END IF`, `END LOOP`, … close blocks that were not counted; `END CASE`
            // closes a counted one. The word after `END` is part of it: skip it.
            let closes_uncounted = ["if", "loop", "while", "repeat"]
                .iter()
                .any(|k| next.eq_ignore_ascii_case(k));
            if !closes_uncounted {
                current.depth = current.depth.saturating_sub(1);
            }
            if closes_uncounted || next.eq_ignore_ascii_case("case") {
                self.i = next_end;
            }
        }
    }

    /// The word after `self.i`, past spaces (empty if something else comes first), and the
    /// offset just past it.
    fn next_word(&self) -> (&'a str, usize) {
        let mut j = self.i;
        while j < self.b.len() && self.b[j].is_ascii_whitespace() {
            j += 1;
        }
        let start = j;
        while j < self.b.len() && is_word_byte(self.b[j]) {
            j += 1;
        }
        (&self.sql[start..j], j)
    }

    /// Ends the current statement, if any, at byte `end` (its terminator or the end of file).
    fn finish(&mut self, end: usize) {
        let Some(current) = self.current.take() else {
            // An empty statement (`;;`): markers before it wait for the next real one.
            return;
        };
        let text = self.sql[current.start..end].trim_end();
        let (line, column) = self.lines.position(current.start);
        let raw = current.markers.iter().any(|m| marker_name(m) == RAW);
        self.out.statements.push(SqlStatement {
            text: text.to_string(),
            line,
            column,
            offset: current.start,
            markers: current.markers,
            raw,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: Dialect) -> Vec<String> {
        split_statements(sql, dialect)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Mysql, Dialect::Postgres];

    #[test]
    fn splits_on_semicolons_and_drops_empty_statements() {
        for d in ALL {
            assert_eq!(
                texts("SELECT 1;\n\n;;  SELECT 2 ;\nSELECT 3", d),
                ["SELECT 1", "SELECT 2", "SELECT 3"],
                "{d}"
            );
            assert!(texts("  \n -- only a comment;\n /* and; another */ ;\n", d).is_empty());
            assert!(texts("", d).is_empty());
        }
    }

    #[test]
    fn semicolons_in_single_quotes_do_not_split() {
        for d in ALL {
            assert_eq!(
                texts("INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT 2;", d),
                ["INSERT INTO t VALUES ('a;b', 'it''s;')", "SELECT 2"],
                "{d}"
            );
        }
    }

    #[test]
    fn semicolons_in_double_quotes_and_backticks_do_not_split() {
        for d in ALL {
            assert_eq!(
                texts(r#"CREATE TABLE "a;""b" (x INT); SELECT 2;"#, d),
                [r#"CREATE TABLE "a;""b" (x INT)"#, "SELECT 2"],
                "{d}"
            );
        }
        for d in [Dialect::Sqlite, Dialect::Mysql] {
            assert_eq!(
                texts("CREATE TABLE `a;``b` (x INT); SELECT 2;", d),
                ["CREATE TABLE `a;``b` (x INT)", "SELECT 2"],
                "{d}"
            );
        }
        assert_eq!(
            texts("SELECT [a;b] FROM t; SELECT 2;", Dialect::Sqlite),
            ["SELECT [a;b] FROM t", "SELECT 2"]
        );
    }

    #[test]
    fn backslash_escapes_only_in_mysql() {
        assert_eq!(
            texts(r#"SELECT 'it\'s;', "x\";"; SELECT 2;"#, Dialect::Mysql),
            [r#"SELECT 'it\'s;', "x\";""#, "SELECT 2"]
        );
        // Standard SQL: a backslash is a plain character, the quote closes the string.
        assert_eq!(
            texts(r"SELECT 'a\'; SELECT 2;", Dialect::Sqlite),
            [r"SELECT 'a\'", "SELECT 2"]
        );
        assert_eq!(
            texts(r"SELECT 'a\'; SELECT 2;", Dialect::Postgres),
            [r"SELECT 'a\'", "SELECT 2"]
        );
        // … except in PostgreSQL escape strings.
        assert_eq!(
            texts(r"SELECT E'it\'s;'; SELECT 2;", Dialect::Postgres),
            [r"SELECT E'it\'s;'", "SELECT 2"]
        );
    }

    #[test]
    fn semicolons_in_comments_do_not_split() {
        for d in ALL {
            let sql = "SELECT 1 -- one; two\n, 2 /* three; four */ ;\n-- five;\nSELECT 3;";
            assert_eq!(
                texts(sql, d),
                ["SELECT 1 -- one; two\n, 2 /* three; four */", "SELECT 3"],
                "{d}"
            );
        }
        assert_eq!(
            texts("SELECT 1 # one; two\n;SELECT 2;", Dialect::Mysql),
            ["SELECT 1 # one; two", "SELECT 2"]
        );
        // In MySQL `--` needs a space after it to start a comment.
        assert_eq!(
            texts("SELECT 1--1;SELECT 2;", Dialect::Mysql),
            ["SELECT 1--1", "SELECT 2"]
        );
        // MySQL executes `/*! … */`: it is a statement, not a comment.
        assert_eq!(
            texts(
                "/* plain; */ /*!40101 SET NAMES utf8 */;\nSELECT 1;",
                Dialect::Mysql
            ),
            ["/*!40101 SET NAMES utf8 */", "SELECT 1"]
        );
        // PostgreSQL nests block comments.
        assert_eq!(
            texts("/* a /* b; */ c; */ SELECT 1; SELECT 2;", Dialect::Postgres),
            ["SELECT 1", "SELECT 2"]
        );
    }

    #[test]
    fn postgres_dollar_quotes() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n\
                   CREATE FUNCTION g() RETURNS text AS $body$ SELECT '$$;'::text; $body$ LANGUAGE sql;\n\
                   SELECT $1, a$b$c FROM t;";
        let got = texts(sql, Dialect::Postgres);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].ends_with("END;\n$$ LANGUAGE plpgsql"), "{}", got[0]);
        assert!(got[1].ends_with("$body$ LANGUAGE sql"), "{}", got[1]);
        assert_eq!(got[2], "SELECT $1, a$b$c FROM t");
    }

    #[test]
    fn sqlite_trigger_body_is_one_statement() {
        let sql = "CREATE TABLE t (a INT, b TEXT);\n\
                   CREATE TRIGGER t_ins AFTER INSERT ON t\n\
                   WHEN new.a > 0\n\
                   BEGIN\n  \
                     UPDATE t SET b = CASE WHEN new.a > 1 THEN 'x;' ELSE 'y' END WHERE a = new.a;\n  \
                     INSERT INTO log VALUES (new.a);\n\
                   END;\n\
                   CREATE TABLE begin_end (\"end\" INT);";
        let got = texts(sql, Dialect::Sqlite);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[1].starts_with("CREATE TRIGGER t_ins"));
        assert!(got[1].ends_with("INSERT INTO log VALUES (new.a);\nEND"));
        assert_eq!(got[2], "CREATE TABLE begin_end (\"end\" INT)");
    }

    #[test]
    fn begin_outside_a_trigger_is_a_transaction() {
        assert_eq!(
            texts("BEGIN; CREATE TABLE t (a INT); END;", Dialect::Sqlite),
            ["BEGIN", "CREATE TABLE t (a INT)", "END"]
        );
    }

    #[test]
    fn mysql_delimiter_command() {
        let sql = "CREATE TABLE t (a INT);\n\
                   DELIMITER //\n\
                   CREATE PROCEDURE p()\n\
                   BEGIN\n  \
                     IF 1 THEN SELECT 1; END IF;\n  \
                     SELECT 2;\n\
                   END //\n\
                   CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1//\n\
                   delimiter ;\n\
                   SELECT 3;";
        let got = split_statements(sql, Dialect::Mysql);
        let texts: Vec<&str> = got.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts.len(), 4, "{texts:#?}");
        assert_eq!(texts[0], "CREATE TABLE t (a INT)");
        assert!(texts[1].starts_with("CREATE PROCEDURE p()\nBEGIN"));
        assert!(texts[1].ends_with("SELECT 2;\nEND"));
        assert_eq!(
            texts[2],
            "CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1"
        );
        assert_eq!(texts[3], "SELECT 3");
        assert_eq!((got[1].line, got[1].column), (3, 1));
        assert_eq!((got[3].line, got[3].column), (10, 1));
    }

    #[test]
    fn a_word_delimiter_ends_the_word_it_touches() {
        let sql = "DELIMITER $$\n\
                   CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND$$\n\
                   CREATE FUNCTION f() RETURNS INT RETURN 1$$\n\
                   DELIMITER ;\n\
                   SELECT 2;";
        let got = texts(sql, Dialect::Mysql);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].ends_with("SELECT 1;\nEND"), "{got:#?}");
        assert_eq!(got[1], "CREATE FUNCTION f() RETURNS INT RETURN 1");
        assert_eq!(got[2], "SELECT 2");
    }

    #[test]
    fn mysql_trigger_body_without_delimiter() {
        let sql = "CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW\n\
                   BEGIN\n  \
                     IF NEW.a < 0 THEN SET NEW.a = 0; END IF;\n  \
                     CASE NEW.b WHEN 1 THEN SET NEW.c = 1; ELSE SET NEW.c = 2; END CASE;\n\
                   END;\n\
                   SELECT 1;";
        let got = texts(sql, Dialect::Mysql);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].ends_with("END CASE;\nEND"));
    }

    #[test]
    fn delimiter_is_only_special_in_mysql() {
        assert_eq!(
            texts("DELIMITER //\nSELECT 1//", Dialect::Postgres),
            ["DELIMITER //\nSELECT 1//"]
        );
        let split = split_script("DELIMITER\nSELECT 1;", Dialect::Mysql);
        assert_eq!(split.problems.len(), 1);
        assert_eq!(split.statements.len(), 1);
    }

    #[test]
    fn lines_columns_and_offsets() {
        let sql = "-- header\n\nCREATE TABLE a (x INT);   SELECT\n  1;\n\n\t /* c */ SELECT 'é'; SELECT 3";
        let got = split_statements(sql, Dialect::Sqlite);
        let pos: Vec<(usize, usize)> = got.iter().map(|s| (s.line, s.column)).collect();
        assert_eq!(pos, [(3, 1), (3, 27), (6, 11), (6, 23)]);
        for s in &got {
            assert_eq!(&sql[s.offset..s.end()], s.text);
        }
        assert_eq!(got[1].text, "SELECT\n  1");
    }

    #[test]
    fn markers_before_inside_and_after() {
        let sql = "-- bascule:raw\n-- an ordinary comment\nCREATE VIRTUAL TABLE f USING fts5(a);\n\
                   ALTER TABLE t DROP COLUMN c; -- bascule:allow drop-column: unused since 2.2\n\
                   UPDATE t\n  -- bascule:allow(full-table-update)\n  SET a = 1;\n\
                   -- bascule:raw\n;\nSELECT 1;\n-- bascule:orphan";
        let got = split_statements(sql, Dialect::Sqlite);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].markers, ["raw"]);
        assert!(got[0].raw);
        assert_eq!(got[1].markers, ["allow drop-column: unused since 2.2"]);
        assert!(got[1].has_marker("allow"));
        assert!(!got[1].raw);
        assert_eq!(got[2].markers, ["allow(full-table-update)"]);
        assert!(got[2].has_marker("allow"));
        // A marker before an empty statement waits for the next real one.
        assert!(got[3].raw);
    }

    #[test]
    fn unterminated_constructs_are_problems() {
        for (sql, d, column) in [
            ("SELECT 1; SELECT 'abc", Dialect::Sqlite, 18),
            ("SELECT 1; /* never closed; SELECT 2;", Dialect::Mysql, 11),
            ("SELECT 1; SELECT $x$ abc;", Dialect::Postgres, 18),
            ("SELECT 1; SELECT `abc;", Dialect::Mysql, 18),
        ] {
            let split = split_script(sql, d);
            assert_eq!(split.problems.len(), 1, "{sql}");
            assert_eq!(
                (split.problems[0].line, split.problems[0].column),
                (1, column),
                "{sql}"
            );
            assert_eq!(split.statements[0].text, "SELECT 1", "{sql}");
        }
    }
}

//! SQL held inside other statements: read, and handed on as statements of their own.
//!
//! # Why
//!
//! Migrations that must run on databases in unknown states guard their DDL, and the guard hides
//! the DDL in something the checker reads as data. MySQL has no `IF` outside stored programs, so
//! projects write the statement in a string and run it with `PREPARE`:
//!
//! ```sql
//! SET @s = (SELECT IF((SELECT COUNT(*) FROM INFORMATION_SCHEMA.STATISTICS WHERE …) > 0,
//!     'SELECT 1',
//!     'CREATE INDEX idx_posts_root_id ON Posts(RootId);'));
//! PREPARE stmt FROM @s; EXECUTE stmt; DEALLOCATE PREPARE stmt;
//! ```
//!
//! or in a procedure the script creates, calls and drops; PostgreSQL projects write
//! `DO $$ BEGIN IF NOT EXISTS (…) THEN ALTER TABLE …; END IF; END $$`. The statements that change
//! the schema are exactly those, and the lint rules and the pair check must see them.
//!
//! # What is read
//!
//! [`expand`] looks at each statement of a script, and where the text it will run is known before
//! run time, reads that text as SQL of the class's dialect:
//!
//! - **prepared statements** ([`Container::PreparedStatement`]): the string of `PREPARE s FROM
//!   'text'`; for `PREPARE s FROM @v`, the last assignment of `@v` before it (`SET @v = …`,
//!   `SET @v := …`, `SELECT … INTO @v`), whose expression is walked for the strings it may
//!   yield: each branch of `IF(…)` and `CASE`, through `(SELECT … [FROM …])`, and `CONCAT` when
//!   every part is a literal. The condition of an `IF` is not SQL the database runs: it is not
//!   read;
//! - **`DO` blocks** ([`Container::DoBlock`]) in PL/pgSQL: the statements of the block, inside
//!   `IF … THEN … ELSIF … ELSE … END IF`, loops, `CASE`, nested blocks and exception handlers,
//!   and the string of `EXECUTE '<literal>'`;
//! - **routine bodies** ([`Container::RoutineBody`]): the body of a procedure the same script
//!   creates and then `CALL`s (MySQL `BEGIN … END`, PostgreSQL `LANGUAGE plpgsql` or `sql`).
//!
//! Each statement found becomes a [`CheckedStatement`] placed right after the statement that holds
//! it, with [`CheckedStatement::embedded`] saying where it came from, so every consumer that walks
//! the script sees it as it sees a written one. What runs inside is read again the same way (a
//! procedure's body that prepares a statement), a few levels deep at most.
//!
//! # Never an error
//!
//! An embedded text that does not parse, or that is built at run time (`CONCAT('ALTER TABLE ',
//! @t, …)`, `EXECUTE format(…)`), is a statement whose reading is
//! [`RecognizedKind::Opaque`](crate::RecognizedKind::Opaque), with the reason: counted, never an
//! issue of the script. The database is the judge of text made at run time, and a trivial branch
//! (`'SELECT 1'`) or a message string is not the migration's fault.
//!
//! # Positions
//!
//! An embedded statement is placed at its first character in the file: inside the literal, or
//! inside the block, so a finding points at the line of the `CREATE INDEX`, not of the `SET`. Its
//! text is the literal's once its escapes are undone (`''`, and MySQL's backslashes); positions
//! inside it past an escape are off by the escape's length, which only shifts a caret.

use std::collections::{HashMap, HashSet};

use sqlparser::tokenizer::{Token, Tokenizer};

use super::parser::parser_dialect;
use super::recognize::{
    comma_ranges, is_user_variable, PreparedText, Recognized, RecognizedKind, RoutineKind,
};
use super::statement::{read, CheckedStatement, Container, Embedded, Reading};
use bascule_patch::{split_script, Dialect, LineIndex, SqlStatement};

/// How deep embedded statements are looked into: a procedure preparing a string is two levels.
const MAX_DEPTH: usize = 3;

/// `statements` (a script's, in order) with the statements embedded in each placed after it.
/// `sql` is the script's text, for positions.
pub(crate) fn expand(
    statements: Vec<CheckedStatement>,
    sql: &str,
    dialect: Dialect,
) -> Vec<CheckedStatement> {
    if dialect == Dialect::Sqlite {
        return statements;
    }
    let source = Source {
        lines: LineIndex::new(sql),
        dialect,
    };
    source.expand(statements, 0)
}

struct Source<'a> {
    lines: LineIndex<'a>,
    dialect: Dialect,
}

impl Source<'_> {
    fn expand(&self, statements: Vec<CheckedStatement>, depth: usize) -> Vec<CheckedStatement> {
        let lexed: Vec<Option<Lexed>> = statements
            .iter()
            .map(|s| match s.outcome {
                Reading::Parsed(_) | Reading::Recognized(_) if !s.is_opaque() => {
                    Lexed::new(&s.statement.text, self.dialect)
                }
                _ => None,
            })
            .collect();
        let prepared = prepared_assignments(&statements, &lexed);
        let called: HashSet<String> = lexed.iter().flatten().filter_map(called_routine).collect();
        let mut out = Vec::with_capacity(statements.len());
        for (i, (holder, lexed)) in statements.into_iter().zip(lexed).enumerate() {
            let mut children = Vec::new();
            if let Some(lexed) = lexed.filter(|_| depth < MAX_DEPTH) {
                let mut add = |within, pieces: Vec<Piece>| {
                    children.extend(
                        pieces
                            .into_iter()
                            .map(|p| self.statement(&holder, within, p)),
                    );
                };
                let variables = prepared.get(&i).map(Vec::as_slice).unwrap_or_default();
                if !variables.is_empty() {
                    add(
                        Container::PreparedStatement,
                        assigned_values(&lexed, variables),
                    );
                }
                match holder.recognized().map(|r| &r.kind) {
                    Some(RecognizedKind::Prepare {
                        from: PreparedText::Literal(_),
                        ..
                    }) => add(Container::PreparedStatement, prepare_literal(&lexed)),
                    Some(RecognizedKind::DoBlock { language }) => {
                        add(Container::DoBlock, do_block(&lexed, language.as_deref()))
                    }
                    Some(RecognizedKind::CreateRoutine {
                        name,
                        kind: RoutineKind::Procedure,
                        ..
                    }) if called.contains(&routine_key(name)) => {
                        add(Container::RoutineBody, self.procedure_body(&lexed))
                    }
                    _ => {}
                }
            }
            out.push(holder);
            out.extend(self.expand(children, depth + 1));
        }
        out
    }

    /// An embedded statement of `holder` from one piece of its text.
    fn statement(
        &self,
        holder: &CheckedStatement,
        within: Container,
        piece: Piece,
    ) -> CheckedStatement {
        let offset = holder.statement.offset + piece.at;
        let (line, column) = self.lines.position(offset);
        let conditional = piece.conditional || holder.embedded.is_some_and(|e| e.conditional);
        let mut markers = holder.statement.markers.clone();
        markers.retain(|m| bascule_patch::marker_name(m) != "raw");
        let outcome = match piece.text {
            Text::Sql(ref text) => match read(text, self.dialect) {
                Ok(reading) => reading,
                Err(error) => opaque(format!("does not parse: {}", short_error(&error))),
            },
            Text::Opaque(ref reason) => opaque(reason.clone()),
        };
        let text = match piece.text {
            Text::Sql(text) => text,
            Text::Opaque(_) => piece.written,
        };
        CheckedStatement {
            statement: SqlStatement {
                text,
                line,
                column,
                offset,
                markers,
                raw: false,
            },
            outcome,
            embedded: Some(Embedded {
                within,
                holder: holder.statement.offset,
                conditional,
            }),
        }
    }

    /// The statements of a procedure's body, MySQL's `BEGIN … END` or PostgreSQL's string.
    fn procedure_body(&self, lexed: &Lexed) -> Vec<Piece> {
        match self.dialect {
            Dialect::Postgres => postgres_procedure_body(lexed),
            _ => {
                // The body is the first top-level `BEGIN` (or `label: BEGIN`) after the parameters.
                let mut depth = 0usize;
                let start = (0..lexed.len()).find(|&i| {
                    match lexed.token(i) {
                        Token::LParen => depth += 1,
                        Token::RParen => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    depth == 0
                        && (lexed.kw_at(i, "BEGIN")
                            || (lexed.is_label(i) && lexed.kw_at(i + 2, "BEGIN")))
                });
                match start {
                    Some(start) => walk_body(lexed, start, lexed.len(), Language::Mysql)
                        .unwrap_or_else(|| vec![unreadable_body(lexed, start)]),
                    None => Vec::new(),
                }
            }
        }
    }
}

fn opaque(reason: String) -> Reading {
    Reading::Recognized(Recognized {
        kind: RecognizedKind::Opaque { reason },
    })
}

/// sqlparser's message without its position, which is the embedded text's, not the file's.
fn short_error(error: &sqlparser::parser::ParserError) -> String {
    let message = error.to_string();
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(&message);
    match message.rfind(" at Line: ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Pieces: text found inside a holder

/// One statement found inside a holder's text.
#[derive(Debug)]
struct Piece {
    /// Byte offset of its first character in the holder's text.
    at: usize,
    text: Text,
    /// The holder's text the piece comes from, as written (what an opaque statement shows).
    written: String,
    /// It runs only under a condition (a branch of `IF` or `CASE`, a loop's body).
    conditional: bool,
}

#[derive(Debug)]
enum Text {
    /// SQL to read.
    Sql(String),
    /// Not readable before run time, and why.
    Opaque(String),
}

/// A string literal's content with, for each of its bytes, the offset in the holder's text of the
/// character it comes from (escapes undone), and one more for its end.
#[derive(Debug, Default, Clone)]
struct Literal {
    content: String,
    origin: Vec<usize>,
}

impl Literal {
    fn push(&mut self, c: char, at: usize) {
        self.content.push(c);
        self.origin.extend(std::iter::repeat_n(at, c.len_utf8()));
    }

    fn append(&mut self, other: Literal) {
        self.content.push_str(&other.content);
        self.origin.extend(other.origin);
    }

    fn origin_of(&self, i: usize) -> usize {
        self.origin
            .get(i)
            .or(self.origin.last())
            .copied()
            .unwrap_or_default()
    }

    /// The statements of the literal, split the way the client splits a script; one opaque piece
    /// when the text does not split cleanly.
    fn pieces(&self, dialect: Dialect, written: &str) -> Vec<Piece> {
        let split = split_script(&self.content, dialect);
        if !split.problems.is_empty() {
            return vec![Piece {
                at: self.origin_of(0),
                text: Text::Opaque(
                    "the string is not complete SQL (a quote or comment is not closed)".into(),
                ),
                written: written.to_string(),
                conditional: false,
            }];
        }
        split
            .statements
            .into_iter()
            .map(|s| Piece {
                at: self.origin_of(s.offset),
                written: s.text.clone(),
                text: Text::Sql(s.text),
                conditional: false,
            })
            .collect()
    }
}

/// The content of a string token starting at `at` in the holder's text, escapes undone.
fn literal(token: &Token, at: usize, dialect: Dialect) -> Option<Literal> {
    let (raw, quote, open) = match token {
        Token::SingleQuotedString(s) => (s.as_str(), Some('\''), 1),
        Token::DoubleQuotedString(s) if dialect == Dialect::Mysql => (s.as_str(), Some('"'), 1),
        Token::DollarQuotedString(d) => (
            d.value.as_str(),
            None,
            2 + d.tag.as_ref().map_or(0, String::len),
        ),
        _ => return None,
    };
    let mut out = Literal::default();
    let start = at + open;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let here = start + i;
        match (c, quote) {
            ('\\', Some(_)) if dialect == Dialect::Mysql => {
                let Some((_, next)) = chars.next() else {
                    out.push(c, here);
                    break;
                };
                match next {
                    '0' => out.push('\0', here),
                    'b' => out.push('\u{8}', here),
                    'n' => out.push('\n', here),
                    'r' => out.push('\r', here),
                    't' => out.push('\t', here),
                    'Z' => out.push('\u{1a}', here),
                    '%' | '_' => {
                        out.push('\\', here);
                        out.push(next, here + 1);
                    }
                    other => out.push(other, here),
                }
            }
            (c, Some(q)) if c == q => {
                // A doubled quote is one quote.
                if chars.peek().is_some_and(|&(_, n)| n == q) {
                    chars.next();
                }
                out.push(c, here);
            }
            _ => out.push(c, here),
        }
    }
    out.origin.push(start + raw.len());
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Tokens with their offsets

/// A statement's significant tokens (no whitespace, no comments), each with its byte range in
/// the text.
struct Lexed {
    text: String,
    tokens: Vec<(Token, usize, usize)>,
}

impl Lexed {
    fn new(text: &str, dialect: Dialect) -> Option<Lexed> {
        let all = Tokenizer::new(parser_dialect(dialect), text)
            .with_unescape(false)
            .tokenize_with_location()
            .ok()?;
        let starts = line_starts(text);
        let offset = |line: u64, column: u64| -> Option<usize> {
            let start = *starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
            let column = usize::try_from(column).ok()?.checked_sub(1)?;
            let rest = text.get(start..)?;
            Some(
                start
                    + rest
                        .char_indices()
                        .nth(column)
                        .map_or(rest.len(), |(i, _)| i),
            )
        };
        let mut tokens = Vec::new();
        let mut previous: Option<(Token, usize)> = None;
        for t in all {
            let at = offset(t.span.start.line, t.span.start.column)?;
            if let Some((token, from)) = previous.take() {
                tokens.push((token, from, at));
            }
            if matches!(t.token, Token::EOF) {
                break;
            }
            previous = Some((t.token, at));
        }
        if let Some((token, from)) = previous {
            tokens.push((token, from, text.len()));
        }
        tokens.retain(|(t, _, _)| !matches!(t, Token::Whitespace(_)));
        // The offsets must land where words and strings are written (an operator may be shown
        // otherwise: `!=` as `<>`); if not, nothing is trusted.
        let consistent = tokens.iter().all(|(t, from, _)| {
            !matches!(
                t,
                Token::Word(_)
                    | Token::SingleQuotedString(_)
                    | Token::DoubleQuotedString(_)
                    | Token::DollarQuotedString(_)
            ) || text
                .get(*from..)
                .is_some_and(|r| r.starts_with(&first_char(t)))
        });
        consistent.then(|| Lexed {
            text: text.to_string(),
            tokens,
        })
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }

    fn token(&self, i: usize) -> &Token {
        self.tokens.get(i).map_or(&Token::EOF, |(t, _, _)| t)
    }

    fn start(&self, i: usize) -> usize {
        self.tokens.get(i).map_or(self.text.len(), |t| t.1)
    }

    fn kw_at(&self, i: usize, kw: &str) -> bool {
        matches!(self.token(i), Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    fn any_kw_at(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().any(|kw| self.kw_at(i, kw))
    }

    /// `label:` at `i`.
    fn is_label(&self, i: usize) -> bool {
        matches!(self.token(i), Token::Word(w) if w.quote_style.is_none())
            && matches!(self.token(i + 1), Token::Colon)
    }

    /// The text of tokens `from..to`, as written.
    fn text(&self, from: usize, to: usize) -> &str {
        if from >= to {
            return "";
        }
        let end = self.tokens.get(to - 1).map_or(self.text.len(), |t| t.2);
        self.text.get(self.start(from)..end).unwrap_or("")
    }

    /// The index of the `)` closing the `(` at `open`.
    fn closing(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for i in open..self.len() {
            match self.token(i) {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Ranges of `from..to` cut at top-level commas.
    fn commas(&self, from: usize, to: usize) -> Vec<(usize, usize)> {
        comma_ranges(from, to, |i| self.token(i))
    }

    /// The first top-level token in `from..to` for which `f` holds (parentheses and `CASE … END`
    /// nest).
    fn find_top(&self, from: usize, to: usize, f: impl Fn(&Lexed, usize) -> bool) -> Option<usize> {
        let mut depth = 0usize;
        let mut cases = 0usize;
        for i in from..to {
            match self.token(i) {
                Token::LParen => depth += 1,
                Token::RParen => depth = depth.saturating_sub(1),
                _ if depth == 0 && cases == 0 && f(self, i) => return Some(i),
                _ if depth == 0 && self.kw_at(i, "CASE") => cases += 1,
                _ if depth == 0 && self.kw_at(i, "END") && cases > 0 => cases -= 1,
                _ => {}
            }
        }
        None
    }

    fn piece_opaque(&self, from: usize, to: usize, reason: &str) -> Piece {
        Piece {
            at: self.start(from),
            text: Text::Opaque(reason.to_string()),
            written: self.text(from, to).to_string(),
            conditional: false,
        }
    }

    fn piece_sql(&self, from: usize, to: usize) -> Piece {
        let text = self.text(from, to).to_string();
        Piece {
            at: self.start(from),
            written: text.clone(),
            text: Text::Sql(text),
            conditional: false,
        }
    }
}

fn first_char(token: &Token) -> String {
    token.to_string().chars().take(1).collect()
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Prepared statements

/// For each statement that assigns a variable a later `PREPARE … FROM @v` runs (the last such
/// assignment before it), the variables it assigns for that purpose.
fn prepared_assignments(
    statements: &[CheckedStatement],
    lexed: &[Option<Lexed>],
) -> HashMap<usize, Vec<String>> {
    let mut last_assigned: HashMap<String, usize> = HashMap::new();
    let mut marked: HashMap<usize, Vec<String>> = HashMap::new();
    for (i, (s, l)) in statements.iter().zip(lexed).enumerate() {
        if let Some(Recognized {
            kind:
                RecognizedKind::Prepare {
                    from: PreparedText::Variable(v),
                    ..
                },
        }) = s.recognized()
        {
            let v = v.to_lowercase();
            if let Some(&at) = last_assigned.get(&v) {
                let vars = marked.entry(at).or_default();
                if !vars.contains(&v) {
                    vars.push(v);
                }
            }
            continue;
        }
        if let Some(l) = l {
            for (variable, _) in assignments(l) {
                last_assigned.insert(variable, i);
            }
        }
    }
    marked
}

/// The user variables a statement assigns, lower-cased, with the token range of the expression
/// each gets: `SET @a = e, @b := f`, `SELECT e INTO @v [FROM …]`, `SELECT e FROM … INTO @v`.
fn assignments(l: &Lexed) -> Vec<(String, (usize, usize))> {
    let mut out = Vec::new();
    if l.kw_at(0, "SET") {
        for (from, to) in l.commas(1, l.len()) {
            let (Token::Word(w), Token::Eq | Token::Assignment) =
                (l.token(from), l.token(from + 1))
            else {
                continue;
            };
            if w.quote_style.is_none() && is_user_variable(&w.value) && from + 2 < to {
                out.push((w.value.to_lowercase(), (from + 2, to)));
            }
        }
    } else if l.kw_at(0, "SELECT") {
        let Some(into) = l.find_top(1, l.len(), |l, i| l.kw_at(i, "INTO")) else {
            return out;
        };
        let ends = |l: &Lexed, i: usize| l.any_kw_at(i, &["FROM", "INTO", "WHERE"]);
        let projection_end = l.find_top(1, l.len(), ends).unwrap_or(l.len());
        let projections = l.commas(1, projection_end);
        let targets_end = l
            .find_top(into + 1, l.len(), |l, i| l.any_kw_at(i, &["FROM", "WHERE"]))
            .unwrap_or(l.len());
        let targets = l.commas(into + 1, targets_end);
        for (k, &(a, b)) in targets.iter().enumerate() {
            let (Token::Word(w), true) = (l.token(a), b == a + 1) else {
                continue;
            };
            if let (true, Some(&range)) = (is_user_variable(&w.value), projections.get(k)) {
                out.push((w.value.to_lowercase(), range));
            }
        }
    }
    out
}

/// The pieces of SQL the assignments of `variables` in this statement may yield.
fn assigned_values(l: &Lexed, variables: &[String]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (variable, (from, to)) in assignments(l) {
        if variables.contains(&variable) {
            values(l, from, to, Dialect::Mysql, &mut pieces);
        }
    }
    pieces
}

/// The string of `PREPARE s FROM 'text'`.
fn prepare_literal(l: &Lexed) -> Vec<Piece> {
    let last = l.len().saturating_sub(1);
    match literal(l.token(last), l.start(last), Dialect::Mysql) {
        Some(lit) => lit.pieces(Dialect::Mysql, l.text(last, last + 1)),
        None => Vec::new(),
    }
}

/// The strings an expression (tokens `from..to`) may evaluate to, as pieces of SQL: literals,
/// the branches of `IF(c, a, b)` and `CASE`, `(SELECT e [FROM …])`, `CONCAT` of literals (and
/// PostgreSQL's `||` of literals). Anything else is known only at run time: one opaque piece.
fn values(l: &Lexed, mut from: usize, mut to: usize, dialect: Dialect, out: &mut Vec<Piece>) {
    const RUN_TIME: &str = "the statement is an expression known only at run time";
    // Parentheses around the whole; a scalar subquery's one projection.
    while from < to && matches!(l.token(from), Token::LParen) && l.closing(from) == Some(to - 1) {
        if l.kw_at(from + 1, "SELECT") {
            let inner_to = to - 1;
            let ends = |l: &Lexed, i: usize| l.any_kw_at(i, &["FROM", "WHERE", "INTO", "LIMIT"]);
            let end = l.find_top(from + 2, inner_to, ends).unwrap_or(inner_to);
            if l.commas(from + 2, end).len() != 1 {
                out.push(l.piece_opaque(from, to, RUN_TIME));
                return;
            }
            return values(l, from + 2, end, dialect, out);
        }
        from += 1;
        to -= 1;
    }
    if let Some(lit) = constant(l, from, to, dialect) {
        out.extend(lit.pieces(dialect, l.text(from, to)));
        return;
    }
    let call = |name: &str| {
        l.kw_at(from, name)
            && matches!(l.token(from + 1), Token::LParen)
            && l.closing(from + 1) == Some(to - 1)
    };
    if call("IF") {
        let args = l.commas(from + 2, to - 1);
        if let [_, then, otherwise] = args.as_slice() {
            let before = out.len();
            values(l, then.0, then.1, dialect, out);
            values(l, otherwise.0, otherwise.1, dialect, out);
            mark_conditional(&mut out[before..]);
            return;
        }
    } else if call("CONCAT") {
        out.push(l.piece_opaque(
            from,
            to,
            "the statement is a CONCAT with a part known only at run time",
        ));
        return;
    } else if l.kw_at(from, "CASE") && l.kw_at(to - 1, "END") {
        // Each THEN … and the ELSE …, at the CASE's own level.
        let mut i = from + 1;
        let mut found = false;
        let before = out.len();
        while let Some(at) = l.find_top(i, to - 1, |l, k| l.any_kw_at(k, &["THEN", "ELSE"])) {
            let end = l
                .find_top(at + 1, to - 1, |l, k| l.any_kw_at(k, &["WHEN", "ELSE"]))
                .unwrap_or(to - 1);
            values(l, at + 1, end, dialect, out);
            found = true;
            i = end;
        }
        if found {
            mark_conditional(&mut out[before..]);
            return;
        }
    }
    out.push(l.piece_opaque(from, to, RUN_TIME));
}

fn mark_conditional(pieces: &mut [Piece]) {
    for piece in pieces {
        piece.conditional = true;
    }
}

/// A string known before run time: a literal, `CONCAT` of such strings, or (PostgreSQL) their
/// `||`.
fn constant(l: &Lexed, from: usize, to: usize, dialect: Dialect) -> Option<Literal> {
    if to == from + 1 {
        return literal(l.token(from), l.start(from), dialect);
    }
    if l.kw_at(from, "CONCAT")
        && matches!(l.token(from + 1), Token::LParen)
        && l.closing(from + 1) == Some(to - 1)
    {
        let mut whole = Literal::default();
        for (a, b) in l.commas(from + 2, to - 1) {
            whole.append(strip_end(constant(l, a, b, dialect)?));
        }
        whole.origin.push(l.start(to - 1));
        return Some(whole);
    }
    // `'a' || 'b'`.
    let bars: Vec<usize> = (from..to)
        .filter(|&i| matches!(l.token(i), Token::StringConcat))
        .collect();
    if !bars.is_empty()
        && l.find_top(from, to, |l, i| matches!(l.token(i), Token::StringConcat))
            .is_some()
    {
        let mut whole = Literal::default();
        let mut start = from;
        for &bar in bars.iter().chain(std::iter::once(&to)) {
            whole.append(strip_end(constant(l, start, bar, dialect)?));
            start = bar + 1;
        }
        whole.origin.push(l.start(to - 1));
        return Some(whole);
    }
    None
}

/// A literal without its end marker, to be appended to another.
fn strip_end(mut lit: Literal) -> Literal {
    lit.origin.truncate(lit.content.len());
    lit
}

// ---------------------------------------------------------------------------------------------
// Routines and DO blocks

/// The routine a `CALL name[(…)]` statement calls, as [`routine_key`] writes it.
fn called_routine(l: &Lexed) -> Option<String> {
    if !l.kw_at(0, "CALL") {
        return None;
    }
    let mut i = 1;
    loop {
        let Token::Word(w) = l.token(i) else {
            return None;
        };
        if !matches!(l.token(i + 1), Token::Period) {
            return Some(routine_key(&w.value));
        }
        i += 2;
    }
}

/// A routine's name as calls compare it: its last part, without quotes, lower-cased.
fn routine_key(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .replace(['"', '`'], "")
        .to_lowercase()
}

/// The statements of a `DO` block: its string, read as PL/pgSQL.
fn do_block(l: &Lexed, language: Option<&str>) -> Vec<Piece> {
    let Some(body) = (0..l.len()).find(|&i| {
        matches!(
            l.token(i),
            Token::DollarQuotedString(_) | Token::SingleQuotedString(_)
        )
    }) else {
        return Vec::new();
    };
    match language.map(str::to_lowercase).as_deref() {
        None | Some("plpgsql") => plpgsql_string(l, body),
        Some(other) => vec![l.piece_opaque(
            body,
            body + 1,
            &format!("the block is written in {other}, which Bascule does not read"),
        )],
    }
}

/// The statements of a PostgreSQL procedure's body (`AS $$ … $$`), by its language.
fn postgres_procedure_body(l: &Lexed) -> Vec<Piece> {
    let Some(body) = l.find_top(0, l.len(), |l, i| {
        l.kw_at(i, "AS")
            && matches!(
                l.token(i + 1),
                Token::DollarQuotedString(_) | Token::SingleQuotedString(_)
            )
    }) else {
        return Vec::new();
    };
    let body = body + 1;
    let language = l
        .find_top(0, l.len(), |l, i| l.kw_at(i, "LANGUAGE"))
        .and_then(|i| match l.token(i + 1) {
            Token::Word(w) => Some(w.value.to_lowercase()),
            Token::SingleQuotedString(s) => Some(s.to_lowercase()),
            _ => None,
        });
    match language.as_deref() {
        Some("sql") => match literal(l.token(body), l.start(body), Dialect::Postgres) {
            Some(lit) => lit.pieces(Dialect::Postgres, l.text(body, body + 1)),
            None => Vec::new(),
        },
        Some("plpgsql") | None => plpgsql_string(l, body),
        Some(other) => vec![l.piece_opaque(
            body,
            body + 1,
            &format!("the body is written in {other}, which Bascule does not read"),
        )],
    }
}

/// The statements of the PL/pgSQL block held in string token `body` of `l`, placed in `l`'s text.
fn plpgsql_string(l: &Lexed, body: usize) -> Vec<Piece> {
    let Some(lit) = literal(l.token(body), l.start(body), Dialect::Postgres) else {
        return Vec::new();
    };
    let unreadable = || vec![l.piece_opaque(body, body + 1, "the block could not be read")];
    let Some(inner) = Lexed::new(&lit.content, Dialect::Postgres) else {
        return unreadable();
    };
    match walk_body(&inner, 0, inner.len(), Language::Plpgsql) {
        Some(pieces) => pieces
            .into_iter()
            .map(|p| Piece {
                at: lit.origin_of(p.at),
                ..p
            })
            .collect(),
        None => unreadable(),
    }
}

fn unreadable_body(l: &Lexed, start: usize) -> Piece {
    l.piece_opaque(start, l.len(), "the body could not be read")
}

// ---------------------------------------------------------------------------------------------
// Compound statements: PL/pgSQL blocks and MySQL's BEGIN … END

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Plpgsql,
    Mysql,
}

/// The SQL statements of a block (tokens `from..to` of `l`): `[DECLARE …] BEGIN … END [label]
/// [;]`, nothing after it. `None` when the block is not well formed.
fn walk_body(l: &Lexed, from: usize, to: usize, language: Language) -> Option<Vec<Piece>> {
    let mut w = Walker {
        l,
        pos: from,
        to,
        language,
        out: Vec::new(),
        discard: 0,
    };
    w.label();
    if language == Language::Plpgsql && w.kw("DECLARE") {
        w.skip_to_top(|l, i| l.kw_at(i, "BEGIN"))?;
    }
    w.block()?;
    w.eat(|t| matches!(t, Token::SemiColon));
    (w.pos >= w.to).then_some(w.out)
}

struct Walker<'l> {
    l: &'l Lexed,
    pos: usize,
    to: usize,
    language: Language,
    out: Vec<Piece>,
    /// Inside a MySQL handler: statements that run only on an error are not the migration's.
    discard: usize,
}

/// Statements of the procedural languages that are not SQL the database sees as such.
const PLPGSQL_ONLY: &[&str] = &[
    "RAISE", "PERFORM", "RETURN", "NULL", "GET", "EXIT", "CONTINUE", "OPEN", "FETCH", "CLOSE",
    "MOVE", "ASSERT",
];
const MYSQL_ONLY: &[&str] = &[
    "LEAVE", "ITERATE", "RETURN", "SIGNAL", "RESIGNAL", "OPEN", "FETCH", "CLOSE",
];

impl Walker<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.to
    }

    fn peek_kw(&self, kw: &str) -> bool {
        !self.at_end() && self.l.kw_at(self.pos, kw)
    }

    fn kw(&mut self, kw: &str) -> bool {
        let hit = self.peek_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Option<()> {
        self.kw(kw).then_some(())
    }

    fn eat(&mut self, f: impl Fn(&Token) -> bool) -> bool {
        let hit = !self.at_end() && f(self.l.token(self.pos));
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn semicolon(&mut self) -> Option<()> {
        self.eat(|t| matches!(t, Token::SemiColon)).then_some(())
    }

    /// `label:` or PL/pgSQL's `<<label>>`.
    fn label(&mut self) {
        if self.l.is_label(self.pos) && self.pos + 1 < self.to {
            self.pos += 2;
        } else if matches!(self.l.token(self.pos), Token::ShiftLeft)
            && matches!(self.l.token(self.pos + 2), Token::ShiftRight)
        {
            self.pos += 3;
        }
    }

    /// `END [label]` of a block, or `END <kw> [label]` of a compound statement.
    fn end(&mut self, kw: Option<&str>) -> Option<()> {
        self.expect_kw("END")?;
        if let Some(kw) = kw {
            self.expect_kw(kw)?;
        }
        if matches!(self.l.token(self.pos), Token::Word(_)) && !self.at_end() {
            self.pos += 1;
        }
        Some(())
    }

    /// Moves to the first top-level token in the rest for which `f` holds.
    fn skip_to_top(&mut self, f: impl Fn(&Lexed, usize) -> bool) -> Option<()> {
        self.pos = self.l.find_top(self.pos, self.to, f)?;
        Some(())
    }

    fn skip_statement(&mut self) -> Option<()> {
        self.skip_to_top(|l, i| matches!(l.token(i), Token::SemiColon))?;
        self.semicolon()
    }

    /// `BEGIN statements [EXCEPTION handlers] END [label]`.
    fn block(&mut self) -> Option<()> {
        self.expect_kw("BEGIN")?;
        self.statements(&["END", "EXCEPTION"])?;
        if self.language == Language::Plpgsql && self.kw("EXCEPTION") {
            while self.kw("WHEN") {
                self.skip_to_top(|l, i| l.kw_at(i, "THEN"))?;
                self.pos += 1;
                self.discard += 1;
                let handled = self.statements(&["WHEN", "END"]);
                self.discard -= 1;
                handled?;
            }
        }
        self.end(None)
    }

    /// Statements up to one of `stops` (not consumed).
    fn statements(&mut self, stops: &[&str]) -> Option<()> {
        loop {
            if self.at_end() {
                return None;
            }
            if stops.iter().any(|kw| self.peek_kw(kw)) {
                return Some(());
            }
            self.statement()?;
        }
    }

    fn statement(&mut self) -> Option<()> {
        if self.semicolon().is_some() {
            return Some(());
        }
        self.label();
        let l = self.l;
        let plpgsql = self.language == Language::Plpgsql;
        if self.peek_kw("BEGIN")
            && !(l.kw_at(self.pos + 1, "WORK") || matches!(l.token(self.pos + 1), Token::SemiColon))
        {
            self.block()?;
            self.semicolon()
        } else if self.peek_kw("DECLARE") {
            if plpgsql {
                self.skip_to_top(|l, i| l.kw_at(i, "BEGIN"))?;
                self.block()?;
                self.semicolon()
            } else {
                self.declare()
            }
        } else if ["IF", "CASE", "LOOP", "WHILE", "REPEAT", "FOR", "FOREACH"]
            .iter()
            .any(|kw| self.peek_kw(kw))
        {
            let before = self.out.len();
            self.compound()?;
            mark_conditional(&mut self.out[before..]);
            Some(())
        } else if plpgsql && self.peek_kw("EXECUTE") {
            self.execute()
        } else if (plpgsql && PLPGSQL_ONLY.iter().any(|kw| self.peek_kw(kw)))
            || (!plpgsql && MYSQL_ONLY.iter().any(|kw| self.peek_kw(kw)))
            || matches!(l.token(self.pos + 1), Token::Assignment)
            || (plpgsql
                && matches!(
                    l.token(self.pos + 1),
                    Token::Eq | Token::Period | Token::LBracket
                ))
        {
            // Control flow, messages, assignments: nothing the schema sees.
            self.skip_statement()
        } else {
            let from = self.pos;
            self.skip_to_top(|l, i| matches!(l.token(i), Token::SemiColon))?;
            if self.discard == 0 {
                self.out.push(l.piece_sql(from, self.pos));
            }
            self.semicolon()
        }
    }

    /// `IF`, `CASE`, and the loops: their statements run under a condition.
    fn compound(&mut self) -> Option<()> {
        let plpgsql = self.language == Language::Plpgsql;
        if self.kw("IF") {
            self.condition("THEN")?;
            self.statements(&["ELSIF", "ELSEIF", "ELSE", "END"])?;
            while self.kw("ELSIF") || self.kw("ELSEIF") {
                self.condition("THEN")?;
                self.statements(&["ELSIF", "ELSEIF", "ELSE", "END"])?;
            }
            if self.kw("ELSE") {
                self.statements(&["END"])?;
            }
            self.end(Some("IF"))?;
            self.semicolon()
        } else if self.kw("CASE") {
            if !self.peek_kw("WHEN") {
                self.skip_to_top(|l, i| l.kw_at(i, "WHEN"))?;
            }
            while self.kw("WHEN") {
                self.condition("THEN")?;
                self.statements(&["WHEN", "ELSE", "END"])?;
            }
            if self.kw("ELSE") {
                self.statements(&["END"])?;
            }
            self.end(Some("CASE"))?;
            self.semicolon()
        } else if self.kw("LOOP") {
            self.loop_body("LOOP")
        } else if self.kw("WHILE") {
            let opener = if plpgsql { "LOOP" } else { "DO" };
            self.condition(opener)?;
            self.loop_body(if plpgsql { "LOOP" } else { "WHILE" })
        } else if !plpgsql && self.kw("REPEAT") {
            self.statements(&["UNTIL"])?;
            self.expect_kw("UNTIL")?;
            self.skip_to_top(|l, i| l.kw_at(i, "END") && l.kw_at(i + 1, "REPEAT"))?;
            self.end(Some("REPEAT"))?;
            self.semicolon()
        } else if plpgsql && (self.kw("FOR") || self.kw("FOREACH")) {
            self.condition("LOOP")?;
            self.loop_body("LOOP")
        } else {
            None
        }
    }

    /// Skips a condition up to its top-level `kw` (`THEN`, `LOOP`, `DO`), consumed.
    fn condition(&mut self, kw: &str) -> Option<()> {
        self.skip_to_top(|l, i| l.kw_at(i, kw))?;
        self.pos += 1;
        Some(())
    }

    /// The statements of a loop, its `END <kw> [label]` and `;`.
    fn loop_body(&mut self, kw: &str) -> Option<()> {
        self.statements(&["END"])?;
        self.end(Some(kw))?;
        self.semicolon()
    }

    /// MySQL `DECLARE …;`, and a handler's statement (read, not kept: it runs on errors only).
    fn declare(&mut self) -> Option<()> {
        self.expect_kw("DECLARE")?;
        let handler = (self.pos..self.to.min(self.pos + 3)).any(|i| self.l.kw_at(i, "HANDLER"));
        if !handler {
            return self.skip_statement();
        }
        self.skip_to_top(|l, i| l.kw_at(i, "FOR"))?;
        self.pos += 1;
        // Conditions: `SQLSTATE [VALUE] '…'`, `SQLEXCEPTION`, `NOT FOUND`, a number or a name.
        loop {
            if self.kw("SQLSTATE") {
                self.kw("VALUE");
                self.pos += 1;
            } else if self.kw("NOT") {
                self.expect_kw("FOUND")?;
            } else {
                self.pos += 1;
            }
            if !self.eat(|t| matches!(t, Token::Comma)) {
                break;
            }
        }
        self.discard += 1;
        let handled = self.statement();
        self.discard -= 1;
        handled
    }

    /// PL/pgSQL `EXECUTE expr [INTO …] [USING …];`: the string, when it is a literal.
    fn execute(&mut self) -> Option<()> {
        self.expect_kw("EXECUTE")?;
        let from = self.pos;
        let l = self.l;
        let end = l.find_top(from, self.to, |l, i| {
            matches!(l.token(i), Token::SemiColon) || l.any_kw_at(i, &["INTO", "USING"])
        })?;
        if self.discard == 0 {
            match constant(l, from, end, Dialect::Postgres) {
                Some(lit) => self
                    .out
                    .extend(lit.pieces(Dialect::Postgres, l.text(from, end))),
                None => self.out.push(l.piece_opaque(
                    from,
                    end,
                    "EXECUTE runs a string built at run time",
                )),
            }
        }
        self.pos = end;
        self.skip_statement()
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::Path;

    use super::*;
    use crate::check_script;
    use Dialect::{Mysql, Postgres};

    /// One line per statement: position, where it was found, how it was read, its first line.
    fn listing(sql: &str, dialect: Dialect) -> String {
        let check = check_script(Path::new("up.sql"), sql, dialect);
        assert_eq!(check.issues, [], "{}", crate::render_issues(&check.issues));
        let mut out = String::new();
        for s in &check.statements {
            let within = s
                .embedded
                .map_or(String::new(), |e| format!("  in {}", e.within.label()));
            let reading = match &s.outcome {
                Reading::Parsed(_) => "parsed".to_string(),
                Reading::Recognized(Recognized {
                    kind: RecognizedKind::Opaque { reason },
                }) => format!("opaque ({reason})"),
                Reading::Recognized(r) => format!("recognized {}", r.kind.label()),
                Reading::Raw => "raw".to_string(),
                Reading::Invalid => "invalid".to_string(),
            };
            let first = s.statement.text.lines().next().unwrap_or("");
            writeln!(
                out,
                "{}:{}{within}: {reading}: {first}",
                s.statement.line, s.statement.column
            )
            .unwrap();
        }
        out
    }

    /// The statements embedded in `sql`'s statements: (container, line, column, text).
    fn embedded(sql: &str, dialect: Dialect) -> Vec<(Container, usize, usize, String)> {
        let check = check_script(Path::new("up.sql"), sql, dialect);
        assert_eq!(check.issues, [], "{}", crate::render_issues(&check.issues));
        check
            .statements
            .into_iter()
            .filter_map(|s| {
                let e = s.embedded?;
                Some((
                    e.within,
                    s.statement.line,
                    s.statement.column,
                    s.statement.text,
                ))
            })
            .collect()
    }

    #[test]
    fn the_literal_of_a_multi_line_set_is_placed_where_its_text_starts() {
        let sql = "-- Posts are read by root.\n\
                   SET @preparedStatement = (SELECT IF(\n    \
                   (\n        SELECT COUNT(*) FROM INFORMATION_SCHEMA.STATISTICS\n        \
                   WHERE table_name = 'Posts'\n        AND table_schema = DATABASE()\n        \
                   AND index_name = 'idx_posts_root_id'\n    ) > 0,\n    \
                   'SELECT 1',\n    \
                   'CREATE INDEX idx_posts_root_id ON Posts(RootId);'\n));\n\
                   PREPARE createIndexIfNotExists FROM @preparedStatement;\n\
                   EXECUTE createIndexIfNotExists;\n\
                   DEALLOCATE PREPARE createIndexIfNotExists;\n";
        let check = check_script(Path::new("up.sql"), sql, Mysql);
        assert_eq!(check.issues, []);
        let index = check
            .statements
            .iter()
            .find(|s| s.statement.text.starts_with("CREATE INDEX"))
            .expect("the CREATE INDEX is read");
        // Line 10 is `    'CREATE INDEX …'`: the text starts after the quote, column 6.
        assert_eq!((index.statement.line, index.statement.column), (10, 6));
        assert_eq!(&sql[index.statement.offset..][..12], "CREATE INDEX");
        assert_eq!(
            index.embedded,
            Some(Embedded {
                within: Container::PreparedStatement,
                holder: check.statements[0].statement.offset,
                conditional: true,
            })
        );
        assert!(matches!(
            &index.ast()[0],
            sqlparser::ast::Statement::CreateIndex(_)
        ));
        // In the script's order: the SET, its two branches, then PREPARE, EXECUTE, DEALLOCATE.
        let order: Vec<&str> = check
            .statements
            .iter()
            .map(|s| s.statement.text.split_whitespace().next().unwrap_or(""))
            .collect();
        assert_eq!(
            order,
            [
                "SET",
                "SELECT",
                "CREATE",
                "PREPARE",
                "EXECUTE",
                "DEALLOCATE"
            ]
        );
        // The condition's strings ('Posts', 'idx_posts_root_id') are not statements.
        assert_eq!(embedded(sql, Mysql).len(), 2);
    }

    #[test]
    fn text_known_only_at_run_time_is_opaque_and_never_an_issue() {
        let sql = "SET @s = CONCAT('ALTER TABLE ', @t, ' ADD COLUMN c INT');\n\
                   PREPARE s FROM @s;\n\
                   PREPARE bad FROM 'ALTER TABLE t ADD COLUMN c INT NOT NUL';\n\
                   SET @u = @other;\nPREPARE u FROM @u;\n";
        let check = check_script(Path::new("up.sql"), sql, Mysql);
        assert_eq!(check.issues, [], "{}", crate::render_issues(&check.issues));
        let opaque: Vec<(usize, String)> = check
            .statements
            .iter()
            .filter(|s| s.is_opaque())
            .map(|s| match &s.outcome {
                Reading::Recognized(Recognized {
                    kind: RecognizedKind::Opaque { reason },
                }) => (s.statement.line, reason.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(opaque.len(), 3, "{opaque:#?}");
        assert_eq!(opaque[0].0, 1);
        assert!(opaque[0].1.contains("CONCAT"), "{}", opaque[0].1);
        assert_eq!(opaque[1].0, 3);
        assert!(opaque[1].1.starts_with("does not parse"), "{}", opaque[1].1);
        assert_eq!(opaque[2].0, 4);
        // A literal PREPAREd as such runs unconditionally.
        let direct = check_script(
            Path::new("up.sql"),
            "PREPARE s FROM 'DROP INDEX i ON t';\n",
            Mysql,
        );
        assert_eq!(
            direct.statements[1].embedded.map(|e| e.conditional),
            Some(false)
        );
        // A CONCAT of literals only is known: read.
        let known = embedded(
            "SET @s = CONCAT('ALTER TABLE t ', 'ADD COLUMN c INT');\nPREPARE s FROM @s;\n",
            Mysql,
        );
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].3, "ALTER TABLE t ADD COLUMN c INT");
        assert_eq!((known[0].1, known[0].2), (1, 18));
    }

    #[test]
    fn only_variables_a_prepare_runs_are_read_and_the_last_assignment_counts() {
        assert_eq!(
            embedded(
                "SET @greeting = 'DROP TABLE not_sql';\nSELECT @greeting;\n",
                Mysql
            ),
            []
        );
        let found = embedded(
            "SET @s = 'DROP TABLE first';\nSET @s = 'DROP TABLE second';\n\
             PREPARE s FROM @S;\nEXECUTE s;\n",
            Mysql,
        );
        assert_eq!(
            found,
            [(
                Container::PreparedStatement,
                2,
                11,
                "DROP TABLE second".to_string()
            )]
        );
        // `SELECT … INTO @v` feeds a PREPARE as well.
        let found = embedded(
            "SELECT IF(COUNT(*) = 0, 'ALTER TABLE t ADD c INT', 'SELECT 1') INTO @sql\n  \
             FROM information_schema.columns WHERE column_name = 'c';\n\
             PREPARE s FROM @sql;\n",
            Mysql,
        );
        let texts: Vec<&str> = found.iter().map(|f| f.3.as_str()).collect();
        assert_eq!(texts, ["ALTER TABLE t ADD c INT", "SELECT 1"]);
    }

    #[test]
    fn a_procedure_body_is_read_only_when_the_script_calls_it() {
        let create = "DELIMITER //\n\
                      CREATE PROCEDURE add_nick()\nBEGIN\n  \
                      DECLARE n INT DEFAULT 0;\n  \
                      DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN DROP TABLE oops; END;\n  \
                      SELECT COUNT(*) INTO n FROM information_schema.columns WHERE column_name = 'nick';\n  \
                      IF n = 0 THEN\n    ALTER TABLE users ADD COLUMN nick varchar(20);\n  \
                      ELSEIF n > 1 THEN\n    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'twice';\n  \
                      END IF;\n  \
                      SET @sql = CONCAT('ALTER TABLE users ADD INDEX idx_nick', ' (nick)');\n  \
                      PREPARE s FROM @sql;\n  EXECUTE s;\nEND//\nDELIMITER ;\n";
        assert_eq!(embedded(create, Mysql), []);
        let called = format!("{create}CALL add_nick();\nDROP PROCEDURE IF EXISTS add_nick;\n");
        let conditional: Vec<bool> = check_script(Path::new("up.sql"), &called, Mysql)
            .statements
            .iter()
            .filter_map(|s| s.embedded.map(|e| e.conditional))
            .collect();
        // Only the ALTER inside `IF n = 0 THEN` is guarded.
        assert_eq!(conditional, [false, true, false, false, false, false]);
        let found = embedded(&called, Mysql);
        let texts: Vec<(Container, usize, &str)> =
            found.iter().map(|f| (f.0, f.1, f.3.as_str())).collect();
        assert_eq!(
            texts,
            [
                (
                    Container::RoutineBody,
                    6,
                    "SELECT COUNT(*) INTO n FROM information_schema.columns WHERE column_name = 'nick'"
                ),
                (
                    Container::RoutineBody,
                    8,
                    "ALTER TABLE users ADD COLUMN nick varchar(20)"
                ),
                (
                    Container::RoutineBody,
                    12,
                    "SET @sql = CONCAT('ALTER TABLE users ADD INDEX idx_nick', ' (nick)')"
                ),
                (
                    Container::PreparedStatement,
                    12,
                    "ALTER TABLE users ADD INDEX idx_nick (nick)"
                ),
                (Container::RoutineBody, 13, "PREPARE s FROM @sql"),
                (Container::RoutineBody, 14, "EXECUTE s"),
            ]
        );
    }

    #[test]
    fn a_block_that_cannot_be_read_is_one_opaque_statement() {
        let check = check_script(
            Path::new("up.sql"),
            "DO $$ BEGIN IF x THEN ALTER TABLE t ADD c int; END $$;\n",
            Postgres,
        );
        assert_eq!(check.issues, []);
        assert_eq!(check.statements.len(), 2);
        assert!(check.statements[1].is_opaque());
        assert_eq!(
            check.statements[1].embedded.map(|e| e.within),
            Some(Container::DoBlock)
        );
        // Another language is not read either.
        let check = check_script(
            Path::new("up.sql"),
            "DO LANGUAGE plpython3u $$ plpy.execute('DROP TABLE t') $$;\n",
            Postgres,
        );
        assert!(check.statements[1].is_opaque());
    }

    #[test]
    fn embedded_statements_keep_their_holders_markers() {
        let sql = "-- bascule:allow require-concurrent-index the table is small\n\
                   DO $$ BEGIN CREATE INDEX i ON t (c); END $$;\n";
        let check = check_script(Path::new("up.sql"), sql, Postgres);
        let index = &check.statements[1];
        assert!(index.statement.markers[0].starts_with("allow require-concurrent-index"));
        assert!(!index.statement.raw);
    }

    #[test]
    fn realistic_idioms_mysql() {
        let sql = "CREATE PROCEDURE MigrateRootId_Posts ()\nBEGIN\n\
                   DECLARE ParentId_EXIST INT;\n\
                   SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS\n\
                   WHERE TABLE_NAME = 'Posts' AND table_schema = DATABASE()\n  \
                   AND COLUMN_NAME = 'ParentId' INTO ParentId_EXIST;\n\
                   IF(ParentId_EXIST > 0) THEN\n\
                   \tUPDATE Posts SET RootId = ParentId WHERE RootId = '' AND RootId != ParentId;\n\
                   \tALTER TABLE Posts DROP COLUMN ParentId;\n\
                   ELSE\n\
                   \tALTER TABLE Posts MODIFY COLUMN FileIds text;\n\
                   END IF;\n\
                   END;\n\n\
                   CALL MigrateRootId_Posts ();\n\
                   DROP PROCEDURE IF EXISTS MigrateRootId_Posts;\n\n\
                   SET @s = IF(NOT EXISTS(SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS\n    \
                   WHERE table_name = 'Users' AND column_name = 'Nick'),\n    \
                   'ALTER TABLE Users ADD COLUMN Nick varchar(64) NOT NULL DEFAULT \\'\\'',\n    \
                   'DO 0');\n\
                   PREPARE stmt FROM @s; EXECUTE stmt; DROP PREPARE stmt;\n\
                   SET @sql := (SELECT CASE WHEN COUNT(*) > 0\n    \
                   THEN CONCAT('DROP INDEX idx_users_nick', ' ON Users')\n    \
                   ELSE 'SELECT ''absent''' END\n  \
                   FROM INFORMATION_SCHEMA.STATISTICS WHERE index_name = 'idx_users_nick');\n\
                   PREPARE s2 FROM @sql;\nEXECUTE s2;\nDEALLOCATE PREPARE s2;\n\
                   SET @t = 'Users';\n\
                   SET @s = CONCAT('ALTER TABLE ', @t, ' ADD COLUMN Bio text');\n\
                   PREPARE s3 FROM @s;\nEXECUTE s3;\n\
                   PREPARE s4 FROM 'ALTER TABLE Users ADD INDEX idx_users_bio (Bio(32))';\n\
                   EXECUTE s4;\n\
                   SET @unused = 'ALTER TABLE never_prepared ADD x int';\n\
                   UPDATE Posts p, Channels c SET p.TeamId = c.TeamId WHERE p.ChannelId = c.Id;\n";
        insta::assert_snapshot!(listing(sql, Mysql));
    }

    #[test]
    fn realistic_idioms_postgres() {
        let sql = "DO $$\nBEGIN\n  \
                   IF NOT EXISTS (SELECT 1 FROM information_schema.columns\n                 \
                   WHERE table_name = 'posts' AND column_name = 'remoteid') THEN\n    \
                   ALTER TABLE posts ADD COLUMN remoteid varchar(26);\n  \
                   ELSIF (SELECT data_type FROM information_schema.columns WHERE column_name = 'remoteid') <> 'text' THEN\n    \
                   ALTER TABLE posts ALTER COLUMN remoteid TYPE text;\n  \
                   END IF;\nEND $$;\n\
                   DO $$ BEGIN EXECUTE 'CREATE INDEX IF NOT EXISTS idx_posts_remoteid ON posts (remoteid)'; END $$;\n\
                   DO $mig$ BEGIN\n  CREATE TYPE post_kind AS ENUM ('text', 'image');\n\
                   EXCEPTION WHEN duplicate_object THEN NULL;\nEND $mig$;\n\
                   DO $$\nDECLARE r record;\nBEGIN\n  \
                   FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP\n    \
                   EXECUTE format('ANALYZE %I', r.tablename);\n  END LOOP;\nEND $$;\n\
                   CREATE OR REPLACE PROCEDURE backfill_kind()\nLANGUAGE plpgsql AS $$\nBEGIN\n  \
                   UPDATE posts SET kind = 'text' WHERE kind IS NULL;\n  COMMIT;\nEND $$;\n\
                   CALL backfill_kind();\n\
                   DROP PROCEDURE backfill_kind();\n";
        insta::assert_snapshot!(listing(sql, Postgres));
    }
}

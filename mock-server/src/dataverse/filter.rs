//! `$filter`: lexer, recursive-descent parser with type checking, evaluator.
//!
//! Pure: names are resolved through [`Schema`], values read through a closure.
//! Grammar (OData precedence: `not` > comparison > `and` > `or`):
//!
//! ```text
//! or      := and ('or' and)*
//! and     := cmp ('and' cmp)*
//! cmp     := unary (('eq'|'ne'|'gt'|'ge'|'lt'|'le') unary)*
//! unary   := 'not' unary | primary
//! primary := '(' or ')' | func '(' args ')' | literal | path | @alias
//! path    := ident ('/' ident)*           (lookups, then a column of the target)
//! ```
//!
//! Evaluation uses SQL's three-valued logic, as Dataverse does: a comparison
//! with a null *column* value is unknown (so `ne` does not match nulls), while
//! comparing with the literal `null` tests for null. String comparisons are
//! case-insensitive and `contains`/`startswith`/`endswith` honour the T-SQL
//! wildcards `%`, `_`, `[]`, `[^]` (dataverse.md §1.5).

use std::cmp::Ordering;

use super::error::{DataverseError, DvResult, TOO_MANY_CONDITIONS};
use crate::world::tables::schema::{parse_date, parse_guid, ColumnType};
use crate::world::time::parse_rfc3339;

/// The deepest nesting the parser follows before answering 400.
pub(super) const MAX_DEPTH: usize = 100;
/// Dataverse's limit on conditions per query (dataverse.md §1.5).
pub(super) const MAX_CONDITIONS: usize = 500;

/// The type of a filter operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    String,
    Int,
    Decimal,
    Bool,
    DateTime,
    Date,
    Guid,
    Null,
}

impl Ty {
    fn edm(self) -> &'static str {
        match self {
            Ty::String => "Edm.String",
            Ty::Int => "Edm.Int32",
            Ty::Decimal => "Edm.Decimal",
            Ty::Bool => "Edm.Boolean",
            Ty::DateTime => "Edm.DateTimeOffset",
            Ty::Date => "Edm.Date",
            Ty::Guid => "Edm.Guid",
            Ty::Null => "null",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Decimal)
    }

    fn temporal(self) -> bool {
        matches!(self, Ty::DateTime | Ty::Date)
    }

    fn comparable(self, other: Ty) -> bool {
        self == Ty::Null
            || other == Ty::Null
            || self == other
            || (self.numeric() && other.numeric())
            || (self.temporal() && other.temporal())
    }
}

/// The operand type a column of type `ty` has in a filter.
pub(super) fn column_ty(ty: ColumnType) -> Ty {
    match ty {
        ColumnType::String | ColumnType::Memo => Ty::String,
        ColumnType::Integer | ColumnType::Choice | ColumnType::Bigint => Ty::Int,
        ColumnType::Decimal | ColumnType::Money => Ty::Decimal,
        ColumnType::Boolean => Ty::Bool,
        ColumnType::Datetime => Ty::DateTime,
        ColumnType::Dateonly => Ty::Date,
        ColumnType::Guid => Ty::Guid,
    }
}

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    /// Lowercase hyphenated.
    Guid(String),
    /// Milliseconds since the epoch (dates are midnight UTC).
    Time(i64),
}

impl Val {
    /// Orders two values of comparable types (strings case-insensitively);
    /// `None` when either is null or the kinds differ.
    pub(super) fn compare(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::Str(a), Val::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
            (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
            (Val::Guid(a), Val::Guid(b)) => Some(a.cmp(b)),
            (Val::Time(a), Val::Time(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Name resolution for the parser.
pub(super) trait Schema {
    /// The logical name of a table (for error messages).
    fn logical_name(&self, table: &str) -> String;
    /// The type of a structural property of `table`.
    fn column(&self, table: &str, name: &str) -> Option<Ty>;
    /// The target table of a single-valued navigation property of `table`.
    fn navigation(&self, table: &str, name: &str) -> Option<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_word(word: &str) -> Option<CmpOp> {
        Some(match word {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    fn kind(self) -> &'static str {
        match self {
            CmpOp::Eq => "Equal",
            CmpOp::Ne => "NotEqual",
            CmpOp::Gt => "GreaterThan",
            CmpOp::Ge => "GreaterThanOrEqual",
            CmpOp::Lt => "LessThan",
            CmpOp::Le => "LessThanOrEqual",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrFunc {
    Contains,
    StartsWith,
    EndsWith,
}

/// A parsed, type-checked filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Lit(Val),
    /// A column, reached through zero or more navigation properties.
    Col {
        path: Vec<String>,
        name: String,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Func(StrFunc, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Alias(String),
    Str(String),
    Num(f64, bool),
    Guid(String),
    DateTime(i64),
    Date(i64),
    LParen,
    RParen,
    Comma,
    Slash,
    Eof,
}

fn syntax(pos: usize, text: &str) -> DataverseError {
    DataverseError::query(format!("Syntax error at position {pos} in '{text}'."))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits a filter into tokens with their character positions.
fn lex(text: &str) -> DvResult<Vec<(Tok, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '/' => Some(Tok::Slash),
            _ => None,
        };
        if let Some(tok) = single {
            out.push((tok, start));
            i += 1;
            continue;
        }
        if c == '\'' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(DataverseError::query(format!(
                            "There is an unterminated literal at position {} in '{text}'.",
                            chars.len()
                        )))
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        value.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(value), start));
            continue;
        }
        // Unquoted GUID literal (dataverse.md §1.5), which may start with a letter.
        if i + 36 <= chars.len()
            && !chars
                .get(i + 36)
                .is_some_and(|c| is_ident_char(*c) || *c == '-')
        {
            let candidate: String = chars[i..i + 36].iter().collect();
            if let Some(guid) = parse_guid(&candidate) {
                out.push((Tok::Guid(guid), start));
                i += 36;
                continue;
            }
        }
        let digit_next = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        if c.is_ascii_digit() || (c == '-' && digit_next) {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '.' | ':' | '-' | '+'))
            {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let tok = if let Some(ms) = parse_date(&word) {
                Tok::Date(ms)
            } else if word.len() > 10 && word.as_bytes().get(10) == Some(&b'T') {
                Tok::DateTime(parse_rfc3339(&word).ok_or_else(|| syntax(start, text))?)
            } else {
                let number = word
                    .strip_suffix(['m', 'M', 'd', 'D', 'L', 'l'])
                    .unwrap_or(&word);
                let integral = !number.contains(['.', 'e', 'E']);
                match number.parse::<f64>() {
                    Ok(n) if n.is_finite() && !number.contains(['+', ':']) => Tok::Num(n, integral),
                    _ => return Err(syntax(start, text)),
                }
            };
            out.push((tok, start));
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == '@' {
            let mut j = i + 1;
            while j < chars.len() && is_ident_char(chars[j]) {
                j += 1;
            }
            let word: String = chars[i + usize::from(c == '@')..j].iter().collect();
            if c == '@' {
                if word.is_empty() {
                    return Err(syntax(start, text));
                }
                out.push((Tok::Alias(word), start));
            } else {
                out.push((Tok::Ident(word), start));
            }
            i = j;
            continue;
        }
        return Err(DataverseError::query(format!(
            "Syntax error: character '{c}' is not valid at position {start} in '{text}'."
        )));
    }
    out.push((Tok::Eof, chars.len()));
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    conditions: usize,
    table: &'a str,
    schema: &'a dyn Schema,
    aliases: &'a dyn Fn(&str) -> Option<String>,
}

fn incompatible(left: Ty, right: Ty, kind: &str) -> DataverseError {
    DataverseError::query(format!(
        "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{kind}'.",
        left.edm(),
        right.edm()
    ))
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|(t, _)| t).unwrap_or(&Tok::Eof)
    }

    fn here(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|(_, p)| *p)
            .unwrap_or(self.text.chars().count())
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.pos += 1;
        tok
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn enter(&mut self) -> DvResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DataverseError::query(format!(
                "The recursion limit has been exceeded: $filter nests deeper than {MAX_DEPTH} levels."
            )));
        }
        Ok(())
    }

    fn condition(&mut self) -> DvResult<()> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(DataverseError::new(
                400,
                TOO_MANY_CONDITIONS,
                "Number of conditions in query exceeded maximum limit.",
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> DvResult<(Expr, Ty)> {
        self.enter()?;
        let (mut left, mut lt) = self.parse_and()?;
        while self.is_word("or") {
            self.next();
            let (right, rt) = self.parse_and()?;
            Self::logical(lt, rt, "Or")?;
            left = Expr::Or(Box::new(left), Box::new(right));
            lt = Ty::Bool;
        }
        self.depth -= 1;
        Ok((left, lt))
    }

    fn logical(lt: Ty, rt: Ty, kind: &str) -> DvResult<()> {
        let ok = |t: Ty| t == Ty::Bool || t == Ty::Null;
        if ok(lt) && ok(rt) {
            Ok(())
        } else {
            Err(incompatible(lt, rt, kind))
        }
    }

    fn parse_and(&mut self) -> DvResult<(Expr, Ty)> {
        let (mut left, mut lt) = self.parse_cmp()?;
        while self.is_word("and") {
            self.next();
            let (right, rt) = self.parse_cmp()?;
            Self::logical(lt, rt, "And")?;
            left = Expr::And(Box::new(left), Box::new(right));
            lt = Ty::Bool;
        }
        Ok((left, lt))
    }

    fn parse_cmp(&mut self) -> DvResult<(Expr, Ty)> {
        let (mut left, mut lt) = self.parse_unary()?;
        while let Tok::Ident(word) = self.peek() {
            let Some(op) = CmpOp::from_word(word) else {
                break;
            };
            self.next();
            let (right, rt) = self.parse_unary()?;
            if !lt.comparable(rt) {
                return Err(incompatible(lt, rt, op.kind()));
            }
            self.condition()?;
            left = Expr::Cmp(op, Box::new(left), Box::new(right));
            lt = Ty::Bool;
        }
        Ok((left, lt))
    }

    fn parse_unary(&mut self) -> DvResult<(Expr, Ty)> {
        if self.is_word("not") {
            self.enter()?;
            self.next();
            let (inner, ty) = self.parse_unary()?;
            if ty != Ty::Bool && ty != Ty::Null {
                return Err(DataverseError::query(format!(
                    "A unary operator with an incompatible type was detected. Found operand type '{}' for operator kind 'Not'.",
                    ty.edm()
                )));
            }
            self.depth -= 1;
            return Ok((Expr::Not(Box::new(inner)), Ty::Bool));
        }
        self.parse_primary()
    }

    fn expect_operand(&self) -> DataverseError {
        DataverseError::query(format!(
            "Expression expected at position {} in '{}'.",
            self.here(),
            self.text
        ))
    }

    fn parse_primary(&mut self) -> DvResult<(Expr, Ty)> {
        let start = self.here();
        match self.next() {
            Tok::LParen => {
                let inner = self.parse_or()?;
                if self.peek() != &Tok::RParen {
                    return Err(DataverseError::query(format!(
                        "')' or operator expected at position {} in '{}'.",
                        self.here(),
                        self.text
                    )));
                }
                self.next();
                Ok(inner)
            }
            Tok::Str(s) => Ok((Expr::Lit(Val::Str(s)), Ty::String)),
            Tok::Num(n, integral) => Ok((
                Expr::Lit(Val::Num(n)),
                if integral { Ty::Int } else { Ty::Decimal },
            )),
            Tok::Guid(g) => Ok((Expr::Lit(Val::Guid(g)), Ty::Guid)),
            Tok::DateTime(ms) => Ok((Expr::Lit(Val::Time(ms)), Ty::DateTime)),
            Tok::Date(ms) => Ok((Expr::Lit(Val::Time(ms)), Ty::Date)),
            Tok::Alias(name) => self.parse_alias(&name),
            Tok::Ident(word) => match word.as_str() {
                "null" => Ok((Expr::Lit(Val::Null), Ty::Null)),
                "true" => Ok((Expr::Lit(Val::Bool(true)), Ty::Bool)),
                "false" => Ok((Expr::Lit(Val::Bool(false)), Ty::Bool)),
                "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "and" | "or" => {
                    self.pos -= 1;
                    Err(self.expect_operand())
                }
                _ if self.peek() == &Tok::LParen => self.parse_call(&word, start),
                _ => self.parse_path(word),
            },
            Tok::Eof => {
                self.pos -= 1;
                Err(self.expect_operand())
            }
            Tok::RParen | Tok::Comma | Tok::Slash => Err(syntax(start, self.text)),
        }
    }

    /// `@p1` takes its text from the query; an alias with no value is null
    /// (dataverse.md §1.2).
    fn parse_alias(&mut self, name: &str) -> DvResult<(Expr, Ty)> {
        let Some(value) = (self.aliases)(&format!("@{name}")) else {
            return Ok((Expr::Lit(Val::Null), Ty::Null));
        };
        self.enter()?;
        let toks = lex(&value)?;
        let mut inner = Parser {
            text: &value,
            toks,
            pos: 0,
            depth: self.depth,
            conditions: self.conditions,
            table: self.table,
            schema: self.schema,
            aliases: self.aliases,
        };
        let result = inner.parse_or()?;
        if inner.peek() != &Tok::Eof {
            return Err(syntax(inner.here(), &value));
        }
        self.conditions = inner.conditions;
        self.depth -= 1;
        Ok(result)
    }

    fn parse_path(&mut self, first: String) -> DvResult<(Expr, Ty)> {
        let mut table = self.table.to_string();
        let mut path = Vec::new();
        let mut name = first;
        while self.peek() == &Tok::Slash {
            let Some(target) = self.schema.navigation(&table, &name) else {
                return Err(DataverseError::no_property(
                    &name,
                    &self.schema.logical_name(&table),
                ));
            };
            self.next();
            path.push(name);
            table = target;
            name = match self.next() {
                Tok::Ident(n) => n,
                _ => {
                    self.pos -= 1;
                    return Err(syntax(self.here(), self.text));
                }
            };
            if path.len() > MAX_DEPTH {
                return Err(syntax(self.here(), self.text));
            }
        }
        match self.schema.column(&table, &name) {
            Some(ty) => Ok((Expr::Col { path, name }, ty)),
            None => Err(DataverseError::no_property(
                &name,
                &self.schema.logical_name(&table),
            )),
        }
    }

    fn parse_call(&mut self, name: &str, start: usize) -> DvResult<(Expr, Ty)> {
        let func = match name {
            "contains" => StrFunc::Contains,
            "startswith" => StrFunc::StartsWith,
            "endswith" => StrFunc::EndsWith,
            _ => {
                return Err(DataverseError::query(format!(
                    "An unknown function with name '{name}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
                )))
            }
        };
        self.enter()?;
        self.next(); // (
        let (a, at) = self.parse_or()?;
        if self.peek() != &Tok::Comma {
            return Err(DataverseError::query(format!(
                "',' or ')' expected at position {} in '{}'.",
                self.here(),
                self.text
            )));
        }
        self.next();
        let (b, bt) = self.parse_or()?;
        if self.peek() != &Tok::RParen {
            return Err(DataverseError::query(format!(
                "')' or ',' expected at position {} in '{}'.",
                self.here(),
                self.text
            )));
        }
        self.next();
        self.depth -= 1;
        for ty in [at, bt] {
            if ty != Ty::String && ty != Ty::Null {
                return Err(DataverseError::query(format!(
                    "No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
                )));
            }
        }
        let _ = start;
        self.condition()?;
        Ok((Expr::Func(func, Box::new(a), Box::new(b)), Ty::Bool))
    }
}

/// Parses and type-checks `$filter` text against `table`.
///
/// `aliases` answers parameter aliases (`@p1`) from the query string.
pub(super) fn parse(
    text: &str,
    table: &str,
    schema: &dyn Schema,
    aliases: &dyn Fn(&str) -> Option<String>,
) -> DvResult<Expr> {
    let toks = lex(text)?;
    let mut parser = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
        conditions: 0,
        table,
        schema,
        aliases,
    };
    if parser.peek() == &Tok::Eof {
        return Err(parser.expect_operand());
    }
    let (expr, ty) = parser.parse_or()?;
    if parser.peek() != &Tok::Eof {
        // `name eq 'a' 'b'`, `contains(a,'b') x` …
        return Err(syntax(parser.here(), text));
    }
    if ty != Ty::Bool {
        return Err(DataverseError::query(
            "The $filter expression must evaluate to a single boolean value.",
        ));
    }
    Ok(expr)
}

/// Evaluates to SQL truth: `Some(true)`, `Some(false)` or unknown (`None`).
/// `get(path, column)` reads a column of the row (through lookups).
pub(super) fn eval(expr: &Expr, get: &dyn Fn(&[String], &str) -> Val) -> Option<bool> {
    match expr {
        Expr::Lit(Val::Bool(b)) => Some(*b),
        Expr::Lit(_) => None,
        Expr::Col { path, name } => match get(path, name) {
            Val::Bool(b) => Some(b),
            _ => None,
        },
        Expr::Not(inner) => eval(inner, get).map(|b| !b),
        Expr::And(a, b) => match (eval(a, get), eval(b, get)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (eval(a, get), eval(b, get)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Cmp(op, a, b) => {
            let null_lit = |e: &Expr| matches!(e, Expr::Lit(Val::Null));
            let (av, bv) = (value(a, get), value(b, get));
            if null_lit(a) || null_lit(b) {
                let other_null = if null_lit(a) {
                    bv == Val::Null
                } else {
                    av == Val::Null
                };
                return match op {
                    CmpOp::Eq => Some(other_null),
                    CmpOp::Ne => Some(!other_null),
                    _ => None,
                };
            }
            let ord = av.compare(&bv)?;
            Some(match op {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::Ne => ord != Ordering::Equal,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
            })
        }
        Expr::Func(func, a, b) => {
            let (Val::Str(text), Val::Str(pattern)) = (value(a, get), value(b, get)) else {
                return None;
            };
            let pattern = match func {
                StrFunc::Contains => format!("%{pattern}%"),
                StrFunc::StartsWith => format!("{pattern}%"),
                StrFunc::EndsWith => format!("%{pattern}"),
            };
            Some(like(&text, &pattern))
        }
    }
}

fn value(expr: &Expr, get: &dyn Fn(&[String], &str) -> Val) -> Val {
    match expr {
        Expr::Lit(v) => v.clone(),
        Expr::Col { path, name } => get(path, name),
        other => match eval(other, get) {
            Some(b) => Val::Bool(b),
            None => Val::Null,
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Pat {
    Any,
    One,
    Set(Vec<(char, char)>, bool),
    Char(char),
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn compile_like(pattern: &str) -> Vec<Pat> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '%' => out.push(Pat::Any),
            '_' => out.push(Pat::One),
            '[' => {
                if let Some(end) = chars[i + 1..]
                    .iter()
                    .position(|c| *c == ']')
                    .map(|p| p + i + 1)
                {
                    let mut body = &chars[i + 1..end];
                    let negated = body.first() == Some(&'^');
                    if negated {
                        body = &body[1..];
                    }
                    let mut ranges = Vec::new();
                    let mut k = 0;
                    while k < body.len() {
                        if k + 2 < body.len() && body[k + 1] == '-' {
                            ranges.push((lower(body[k]), lower(body[k + 2])));
                            k += 3;
                        } else {
                            ranges.push((lower(body[k]), lower(body[k])));
                            k += 1;
                        }
                    }
                    out.push(Pat::Set(ranges, negated));
                    i = end;
                } else {
                    out.push(Pat::Char('['));
                }
            }
            c => out.push(Pat::Char(lower(c))),
        }
        i += 1;
    }
    out
}

/// T-SQL `LIKE`, case-insensitive.
pub(super) fn like(text: &str, pattern: &str) -> bool {
    let pat = compile_like(pattern);
    let text: Vec<char> = text.chars().map(lower).collect();
    // reachable[j]: the first j pattern items can match the text consumed so far.
    let mut reachable = vec![false; pat.len() + 1];
    reachable[0] = true;
    for j in 0..pat.len() {
        if pat[j] == Pat::Any && reachable[j] {
            reachable[j + 1] = true;
        }
    }
    for c in text {
        let mut next = vec![false; pat.len() + 1];
        for j in 0..pat.len() {
            let matched = match &pat[j] {
                Pat::Any => reachable[j + 1] || reachable[j],
                Pat::One => reachable[j],
                Pat::Char(p) => reachable[j] && *p == c,
                Pat::Set(ranges, negated) => {
                    reachable[j] && (ranges.iter().any(|(a, b)| *a <= c && c <= *b) != *negated)
                }
            };
            if matched {
                next[j + 1] = true;
            }
        }
        for j in 0..pat.len() {
            if pat[j] == Pat::Any && next[j] {
                next[j + 1] = true;
            }
        }
        reachable = next;
    }
    reachable[pat.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct TestSchema;

    impl Schema for TestSchema {
        fn logical_name(&self, table: &str) -> String {
            table.trim_end_matches('s').to_string()
        }
        fn column(&self, table: &str, name: &str) -> Option<Ty> {
            match (table, name) {
                ("accounts", "name" | "lastname" | "firstname") => Some(Ty::String),
                ("accounts", "revenue") => Some(Ty::Decimal),
                ("accounts", "count") => Some(Ty::Int),
                ("accounts", "active") => Some(Ty::Bool),
                ("accounts", "createdon") => Some(Ty::DateTime),
                ("accounts", "due") => Some(Ty::Date),
                ("accounts", "accountid" | "_owner_value") => Some(Ty::Guid),
                ("teams", "name") => Some(Ty::String),
                _ => None,
            }
        }
        fn navigation(&self, table: &str, name: &str) -> Option<String> {
            (table == "accounts" && name == "ownerid").then(|| "teams".to_string())
        }
    }

    fn no_alias(_: &str) -> Option<String> {
        None
    }

    fn p(text: &str) -> DvResult<Expr> {
        parse(text, "accounts", &TestSchema, &no_alias)
    }

    fn err(text: &str) -> String {
        p(text).unwrap_err().message
    }

    fn row() -> BTreeMap<String, Val> {
        let mut r = BTreeMap::new();
        r.insert("name".into(), Val::Str("O'Bryan Supplies".into()));
        r.insert("revenue".into(), Val::Num(5000.0));
        r.insert("count".into(), Val::Num(3.0));
        r.insert("active".into(), Val::Bool(true));
        r.insert(
            "createdon".into(),
            Val::Time(parse_rfc3339("2023-04-07T21:59:01Z").unwrap()),
        );
        r.insert(
            "_owner_value".into(),
            Val::Guid("aaaaaaaa-0000-0000-0000-000000000001".into()),
        );
        r.insert("ownerid/name".into(), Val::Str("Accounts Payable".into()));
        r
    }

    fn matches(text: &str) -> Option<bool> {
        let expr = p(text).unwrap();
        let r = row();
        eval(&expr, &|path, name| {
            let key = if path.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", path.join("/"))
            };
            r.get(&key).cloned().unwrap_or(Val::Null)
        })
    }

    #[test]
    fn comparisons_and_logic() {
        // dataverse.md §1.5: eq ne gt ge lt le, and/or/not, parentheses
        assert_eq!(matches("revenue lt 100000 and revenue gt 2000"), Some(true));
        assert_eq!(matches("revenue ge 5000 and revenue le 5000"), Some(true));
        assert_eq!(matches("revenue ne 5000"), Some(false));
        assert_eq!(matches("count eq 3 or count eq 4"), Some(true));
        assert_eq!(matches("not (count eq 3)"), Some(false));
        assert_eq!(matches("active eq true"), Some(true));
        assert_eq!(matches("active"), Some(true));
        assert_eq!(
            matches("createdon gt 2023-01-01T00:00:00Z and createdon lt 2024-01-01"),
            Some(true)
        );
        assert_eq!(matches("revenue gt 4999.5"), Some(true));
        assert_eq!(matches("count gt -1"), Some(true));
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        // dataverse.md §1.5: precedence; `a or b and c` is `a or (b and c)`
        assert_eq!(
            matches("count eq 3 or count eq 9 and revenue eq 1"),
            Some(true)
        );
        assert_eq!(
            matches("(count eq 3 or count eq 9) and revenue eq 1"),
            Some(false)
        );
        assert_eq!(
            p("count eq 1 or count eq 2 and count eq 3").unwrap(),
            Expr::Or(
                Box::new(p("count eq 1").unwrap()),
                Box::new(p("count eq 2 and count eq 3").unwrap())
            )
        );
        // `not` binds tighter than `eq`: `not name eq 'x'` negates a string.
        assert!(err("not name eq 'x'").contains("operator kind 'Not'"));
    }

    #[test]
    fn strings_are_case_insensitive_with_doubled_quotes() {
        // dataverse.md §1.5: O''Bryan; all string comparisons are case-insensitive
        assert_eq!(matches("name eq 'o''bryan SUPPLIES'"), Some(true));
        assert_eq!(matches("contains(name,'BRYAN')"), Some(true));
        assert_eq!(matches("startswith(name,'o''b')"), Some(true));
        assert_eq!(matches("endswith(name,'supplies')"), Some(true));
        assert_eq!(matches("not contains(name,'sample')"), Some(true));
        assert_eq!(matches("name gt 'N' and name lt 'p'"), Some(true));
    }

    #[test]
    fn wildcards_follow_tsql_like() {
        // dataverse.md §1.5: % _ [] [^] honoured
        assert_eq!(matches("contains(name,'bry_n')"), Some(true));
        assert_eq!(matches("startswith(name,'o''b%s')"), Some(true));
        assert_eq!(matches("contains(name,'[a-c]ryan')"), Some(true));
        assert_eq!(matches("contains(name,'[^b]ryan')"), Some(false));
        assert!(like("abc", "a%"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "ab"));
        assert!(like("a[b", "a[b"));
        assert!(like("", "%%"));
        // A trailing % matches nothing more; a set matches only where the
        // pattern has reached it; `-` at the end of a set is itself.
        assert!(like("a", "a%"));
        assert!(like("ab", "a%b%%"));
        assert!(!like("xb", "a[b]"));
        assert!(like("-", "[a-]") && like("a", "[a-]") && !like("b", "[a-]"));
    }

    #[test]
    fn nulls_use_three_valued_logic() {
        // dataverse.md §1.5: `revenue ne null`
        assert_eq!(matches("firstname eq null"), Some(true));
        assert_eq!(matches("null eq firstname"), Some(true));
        assert_eq!(matches("revenue ne null"), Some(true));
        assert_eq!(matches("firstname ne 'x'"), None);
        assert_eq!(matches("not (firstname eq 'x')"), None);
        assert_eq!(matches("firstname eq 'x' or count eq 3"), Some(true));
        assert_eq!(matches("contains(firstname,'x')"), None);
        // Two columns of the same row (§1.5).
        assert_eq!(matches("firstname eq lastname"), None);
    }

    #[test]
    fn guids_and_lookups() {
        // dataverse.md §1.5: unquoted GUID literals; filtering through a lookup
        assert_eq!(
            matches("_owner_value eq AAAAAAAA-0000-0000-0000-000000000001"),
            Some(true)
        );
        assert_eq!(
            matches("accountid eq aaaaaaaa-0000-0000-0000-000000000001"),
            None
        );
        assert_eq!(matches("ownerid/name eq 'accounts payable'"), Some(true));
        assert_eq!(
            err("_owner_value eq 'aaaaaaaa-0000-0000-0000-000000000001'"),
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."
        );
        assert_eq!(
            err("ownerid/nope eq 'x'"),
            "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.team'."
        );
    }

    #[test]
    fn unterminated_literal_matches_the_documented_message() {
        // dataverse.md §1.5 / §1.6
        let e = p("lastname eq 'O'Bryan'").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.code, "0x80060888");
        assert_eq!(
            e.message,
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
        );
    }

    #[test]
    fn unknown_columns_and_syntax_errors() {
        // dataverse.md §1.6, §1.7
        assert_eq!(
            err("Name eq 'x'"),
            "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'."
        );
        assert_eq!(
            err("name eq"),
            "Expression expected at position 7 in 'name eq'."
        );
        assert_eq!(err(""), "Expression expected at position 0 in ''.");
        assert_eq!(
            err("name eq 'a' 'b'"),
            "Syntax error at position 12 in 'name eq 'a' 'b''."
        );
        assert_eq!(
            err("name eq 'a' #"),
            "Syntax error: character '#' is not valid at position 12 in 'name eq 'a' #'."
        );
        assert_eq!(
            err("(name eq 'a'"),
            "')' or operator expected at position 12 in '(name eq 'a''."
        );
        assert!(err("tolower(name) eq 'a'").contains("unknown function with name 'tolower'"));
        assert!(err("contains(count,'1')").contains("No function signature"));
        assert!(err("name").contains("single boolean value"));
        assert!(err("count eq 'x'").contains("'Edm.Int32' and 'Edm.String'"));
        assert!(err("name eq 'a' and count").contains("operator kind 'And'"));
        assert!(err("contains(name 'a')").contains("',' or ')' expected"));
        assert!(err("name eq 1.2.3").starts_with("Syntax error"));
    }

    #[test]
    fn nesting_depth_is_bounded() {
        let deep = format!("{}count eq 3{}", "(".repeat(5000), ")".repeat(5000));
        assert!(err(&deep).contains("recursion limit"));
        let nots = format!("{}active", "not ".repeat(5000));
        assert!(err(&nots).contains("recursion limit"));
        let ok = format!("{}count eq 3{}", "(".repeat(50), ")".repeat(50));
        assert!(p(&ok).is_ok());
    }

    #[test]
    fn too_many_conditions() {
        // dataverse.md §1.5: 500 conditions, 0x8004430C
        let many = vec!["count eq 1"; 501].join(" or ");
        let e = p(&many).unwrap_err();
        assert_eq!(e.code, "0x8004430C");
        assert_eq!(
            e.message,
            "Number of conditions in query exceeded maximum limit."
        );
    }

    #[test]
    fn parameter_aliases() {
        // dataverse.md §1.2: $filter=@p1 ne @p3&@p1=revenue; a missing alias is null
        let aliases = |name: &str| match name {
            "@p1" => Some("revenue".to_string()),
            "@p2" => Some("'o''bryan supplies'".to_string()),
            _ => None,
        };
        let expr = parse("@p1 ne @p3", "accounts", &TestSchema, &aliases).unwrap();
        assert_eq!(
            expr,
            Expr::Cmp(
                CmpOp::Ne,
                Box::new(Expr::Col {
                    path: vec![],
                    name: "revenue".into()
                }),
                Box::new(Expr::Lit(Val::Null))
            )
        );
        assert!(parse("name eq @p2", "accounts", &TestSchema, &aliases).is_ok());
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    struct AnySchema;

    impl Schema for AnySchema {
        fn logical_name(&self, table: &str) -> String {
            table.to_string()
        }
        fn column(&self, _table: &str, name: &str) -> Option<Ty> {
            match name {
                "s" => Some(Ty::String),
                "n" => Some(Ty::Int),
                "g" => Some(Ty::Guid),
                _ => None,
            }
        }
        fn navigation(&self, _table: &str, name: &str) -> Option<String> {
            (name == "nav").then(|| "t".to_string())
        }
    }

    proptest! {
        // No input may panic the parser or the evaluator (brief: "no panics on any input").
        #[test]
        fn never_panics(text in r"[sng()' ,/@a-z0-9.\-]{0,60}", tokens in proptest::collection::vec(
            prop::sample::select(vec!["s", "n", "g", "nav/s", "eq", "ne", "and", "or", "not", "(", ")", "'a''b'", "'", "1", "-2.5", "null", "true", "contains(", ",", "@p", "00000000-0000-0000-0000-000000000001", "2024-01-01"]),
            0..30,
        )) {
            let aliases = |name: &str| (name == "@p").then(|| "@p".to_string());
            for input in [text, tokens.join(" ")] {
                if let Ok(expr) = parse(&input, "t", &AnySchema, &aliases) {
                    let _ = eval(&expr, &|_, name| if name == "s" { Val::Str("x".into()) } else { Val::Null });
                }
            }
        }
    }

    #[test]
    fn self_referencing_alias_is_bounded() {
        let aliases = |name: &str| (name == "@p").then(|| "@p".to_string());
        let e = parse("@p eq 1", "t", &AnySchema, &aliases).unwrap_err();
        assert!(e.message.contains("recursion limit"));
    }
}

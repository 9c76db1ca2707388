//! JQL syntax: `expr [ORDER BY field [ASC|DESC], ...]`.

use super::lex::{Token, lex};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Expr>,
    pub order: Vec<OrderBy>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Clause(Clause),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
    /// The clause as written, for error messages.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Project,
    /// `key`, `issuekey`, `issue` and `id`: an issue by key or id.
    Issue,
    Status,
    Labels,
    Creator,
    Created,
    Updated,
}

impl Field {
    fn parse(word: &str) -> Option<Field> {
        Some(match word.to_ascii_lowercase().as_str() {
            "project" => Field::Project,
            "key" | "issuekey" | "issue" | "id" => Field::Issue,
            "status" => Field::Status,
            "labels" => Field::Labels,
            "creator" => Field::Creator,
            "created" | "createddate" => Field::Created,
            "updated" | "updateddate" => Field::Updated,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Project => "project",
            Field::Issue => "key",
            Field::Status => "status",
            Field::Labels => "labels",
            Field::Creator => "creator",
            Field::Created => "created",
            Field::Updated => "updated",
        }
    }

    fn is_date(self) -> bool {
        matches!(self, Field::Created | Field::Updated)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// One value, or a list for `in`.
    Values(Vec<String>),
    /// `currentUser()`.
    CurrentUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    Updated,
    Created,
    Key,
    Id,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    pub field: OrderField,
    pub descending: bool,
}

/// The most `ORDER BY` fields Jira accepts.
pub const MAX_ORDER_FIELDS: usize = 7;

const SUPPORTED: &str =
    "the simulator supports project, key/issuekey/id, status, labels, creator, created and updated";

pub fn parse(jql: &str) -> Result<Query, String> {
    let tokens = lex(jql)?;
    let mut p = Parser { tokens, pos: 0 };
    let filter = if p.peek().is_none() || p.at_order_by() {
        None
    } else {
        Some(p.or()?)
    };
    let mut order = Vec::new();
    if p.at_order_by() {
        p.pos += 2;
        loop {
            let Some(Token::Word(w)) = p.next() else {
                return Err(
                    "Error in the JQL Query: Expecting a field name after 'ORDER BY'.".into(),
                );
            };
            let field = match w.to_ascii_lowercase().as_str() {
                "updated" | "updateddate" => OrderField::Updated,
                "created" | "createddate" => OrderField::Created,
                "key" | "issuekey" => OrderField::Key,
                "id" => OrderField::Id,
                _ => {
                    return Err(format!(
                        "Unsupported JQL clause 'ORDER BY {w}': the simulator orders by updated, created, key or id."
                    ));
                }
            };
            let descending = if p.eat_word("DESC") {
                true
            } else {
                p.eat_word("ASC");
                false
            };
            order.push(OrderBy { field, descending });
            if !p.eat(&Token::Comma) {
                break;
            }
        }
        if order.len() > MAX_ORDER_FIELDS {
            return Err(format!(
                "The ORDER BY clause can contain a maximum of {MAX_ORDER_FIELDS} fields."
            ));
        }
    }
    if let Some(t) = p.peek() {
        return Err(format!(
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
            t.text()
        ));
    }
    Ok(Query { filter, order })
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_word(w)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn at_order_by(&self) -> bool {
        self.peek().is_some_and(|t| t.is_word("ORDER"))
            && self
                .tokens
                .get(self.pos + 1)
                .is_some_and(|t| t.is_word("BY"))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat_word("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.eat_word("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_word("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.eat(&Token::LParen) {
            let e = self.or()?;
            if !self.eat(&Token::RParen) {
                return Err(
                    "Error in the JQL Query: Expecting ')' before the end of the query.".into(),
                );
            }
            return Ok(e);
        }
        self.clause().map(Expr::Clause)
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let start = self.pos;
        let Some(Token::Word(name)) = self.next() else {
            let got = self
                .tokens
                .get(start)
                .map_or("the end of the query".to_owned(), |t| {
                    format!("'{}'", t.text())
                });
            return Err(format!(
                "Error in the JQL Query: Expecting a field name but got {got}."
            ));
        };
        let op = match self.next() {
            Some(Token::Op(o)) => match o.as_str() {
                "=" => Some(Op::Eq),
                "!=" => Some(Op::Ne),
                ">" => Some(Op::Gt),
                ">=" => Some(Op::Ge),
                "<" => Some(Op::Lt),
                "<=" => Some(Op::Le),
                _ => None,
            },
            Some(t) if t.is_word("IN") => Some(Op::In),
            Some(t) if t.is_word("NOT") && self.eat_word("IN") => Some(Op::NotIn),
            Some(_) => None,
            None => {
                return Err(format!(
                    "Error in the JQL Query: Expecting an operator after '{name}'."
                ));
            }
        };
        let operand = self.operand()?;
        let text = self.tokens[start..self.pos.min(self.tokens.len())]
            .iter()
            .map(Token::text)
            .collect::<Vec<_>>()
            .join(" ");
        let field = Field::parse(&name)
            .ok_or_else(|| format!("Unsupported JQL clause '{text}': {SUPPORTED}."))?;
        let Some(op) = op else {
            let o = self.tokens[start + 1].text();
            return Err(format!(
                "The operator '{o}' is not supported by the '{}' field (clause '{text}').",
                field.name()
            ));
        };
        let date_op = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
        // Dates and issue keys are ordered (Jira's "Issue key" field takes `>` and the like).
        let allowed = if field.is_date() || field == Field::Issue {
            !(field.is_date() && matches!(op, Op::In | Op::NotIn))
        } else {
            !date_op
        };
        if !allowed {
            return Err(format!(
                "The operator '{}' is not supported by the '{}' field (clause '{text}').",
                op_text(op),
                field.name()
            ));
        }
        if matches!(operand, Operand::CurrentUser) && field != Field::Creator {
            return Err(format!(
                "Unsupported JQL clause '{text}': currentUser() is supported with creator only."
            ));
        }
        if let Operand::Values(v) = &operand
            && v.len() > 1
            && !matches!(op, Op::In | Op::NotIn)
        {
            return Err(format!(
                "Error in the JQL Query: the operator '{}' takes one value (clause '{text}').",
                op_text(op)
            ));
        }
        Ok(Clause {
            field,
            op,
            operand,
            text,
        })
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Operand::Values(vec![s])),
            Some(Token::Word(w)) => {
                if self.peek() == Some(&Token::LParen) {
                    self.pos += 1;
                    if !self.eat(&Token::RParen) {
                        return Err(format!(
                            "Unsupported JQL function '{w}(...)': the simulator supports currentUser() only."
                        ));
                    }
                    if w.eq_ignore_ascii_case("currentUser") {
                        return Ok(Operand::CurrentUser);
                    }
                    return Err(format!(
                        "Unsupported JQL function '{w}()': the simulator supports currentUser() only."
                    ));
                }
                if ["EMPTY", "NULL", "AND", "OR", "ORDER"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(format!(
                        "Unsupported JQL value '{w}': the simulator compares with literal values only."
                    ));
                }
                Ok(Operand::Values(vec![w]))
            }
            Some(Token::LParen) => {
                let mut values = Vec::new();
                loop {
                    match self.next() {
                        Some(Token::Str(s) | Token::Word(s)) => values.push(s),
                        _ => {
                            return Err(
                                "Error in the JQL Query: Expecting a value in the list.".into()
                            );
                        }
                    }
                    if self.eat(&Token::RParen) {
                        break;
                    }
                    if !self.eat(&Token::Comma) {
                        return Err(
                            "Error in the JQL Query: Expecting ',' or ')' in the list.".into()
                        );
                    }
                }
                Ok(Operand::Values(values))
            }
            _ => Err("Error in the JQL Query: Expecting a value.".into()),
        }
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::In => "in",
        Op::NotIn => "not in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sync_engines_query() {
        let q = parse(r#"project = SEC AND (labels = security OR status in ("To Do", Done)) AND updated >= "2026/05/07 12:00" ORDER BY updated ASC, key DESC"#).unwrap();
        assert!(q.filter.is_some());
        assert_eq!(q.order.len(), 2);
        assert!(q.order[1].descending);
    }

    #[test]
    fn refuses_what_it_does_not_support_naming_the_clause() {
        let e = parse(r#"project = SEC AND summary ~ "boom""#).unwrap_err();
        assert!(e.contains(r#"summary ~ "boom""#), "{e}");
        let e = parse("updated in (1, 2)").unwrap_err();
        assert!(e.contains("operator 'in'"), "{e}");
        let e = parse("labels > x").unwrap_err();
        assert!(e.contains("operator '>'"), "{e}");
        let e = parse("project = SEC ORDER BY priority").unwrap_err();
        assert!(e.contains("ORDER BY priority"), "{e}");
        assert!(parse("project = SEC AND").is_err());
        assert!(parse("(project = SEC").is_err());
        assert!(parse("project = \"SEC").is_err());
    }
}

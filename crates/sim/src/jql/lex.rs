//! JQL tokens.

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A bare word: field name, keyword, unquoted value or function name.
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    LParen,
    RParen,
    Comma,
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `!~`.
    Op(String),
}

impl Token {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(self, Token::Word(x) if x.eq_ignore_ascii_case(w))
    }

    /// The token as it would appear in the query, for error messages.
    pub fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Str(s) => format!("\"{s}\""),
            Token::LParen => "(".into(),
            Token::RParen => ")".into(),
            Token::Comma => ",".into(),
            Token::Op(o) => o.clone(),
        }
    }
}

pub fn lex(input: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "Error in the JQL Query: The quoted string starting with {quote} is not terminated."
                            ));
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            '=' | '~' => {
                out.push(Token::Op(c.to_string()));
                i += 1;
            }
            '!' | '>' | '<' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Token::Op(format!("{c}=")));
                    i += 2;
                } else if c == '!' && chars.get(i + 1) == Some(&'~') {
                    out.push(Token::Op("!~".into()));
                    i += 2;
                } else if c == '!' {
                    return Err(
                        "Error in the JQL Query: The character '!' is a reserved JQL character."
                            .into(),
                    );
                } else {
                    out.push(Token::Op(c.to_string()));
                    i += 1;
                }
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()=,!<>~\"'".contains(chars[i])
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

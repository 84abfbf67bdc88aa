//! The query string as ordered pairs (a parameter such as `channel` may repeat).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The pairs of a query string (`None`: no query).
    pub fn from_query(query: Option<&str>) -> Params {
        Params(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect())
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// A yes/no parameter: absent, `0`, `false` or `no` is no; present empty, `1`, `true` or
    /// `yes` is yes; anything else is a `400`.
    pub fn flag(&self, name: &str) -> crate::error::ApiResult<bool> {
        match self.get(name).map(str::trim) {
            None | Some("0" | "false" | "no") => Ok(false),
            Some("" | "1" | "true" | "yes") => Ok(true),
            Some(other) => {
                let shown: String = other.chars().take(20).collect();
                Err(crate::error::ApiError::new(push_core::ErrorKind::BadRequest, format!("{name}={shown:?} is not 1 or 0 (true or false)")))
            }
        }
    }
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::from_query(parts.uri.query()))
    }
}

//! The v4 envelope every answer wears, success or failure
//! (`*_api-response-common` / `*-failure` in the OpenAPI subset):
//! `{success, errors[{code,message}], messages, result, result_info?}`.
//! A failure has `result: null` and at least one error with a code ≥ 1000;
//! clients must look at `success`, not only the HTTP status. Some
//! failures say why in an `error_chain` under the error (DNS validation:
//! `{"code": 1004, "message": "DNS Validation Error", "error_chain":
//! [{"code": 9300, ...}]}`, kubernetes-sigs/external-dns#3706).
//!
//! Pagination is page based (`page`, `per_page`); `result_info` carries
//! `page`, `per_page`, `count` (on this page), `total_count` and
//! `total_pages`.

use serde_json::{json, Value};

/// A failure: HTTP status, Cloudflare error code and message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
    /// The `error_chain` under the error: `(code, message)`.
    pub chain: Vec<(u32, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            chain: Vec::new(),
        }
    }

    /// 400/1004 "DNS Validation Error" with the reason in its chain.
    pub fn dns_validation(code: u32, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(400, 1004, "DNS Validation Error");
        e.chain.push((code, message.into()));
        e
    }

    /// 7003 "No route for the URI" (HTTP 400), for unknown paths.
    pub fn no_route() -> ApiError {
        ApiError::new(400, 7003, "No route for the URI")
    }

    /// A 404 for a missing object of the given kind.
    pub fn not_found(code: u32, what: &str) -> ApiError {
        ApiError::new(404, code, format!("{what} not found"))
    }

    /// A request the OpenAPI schema refuses (HTTP 400).
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, 1004, format!("Invalid request: {}", message.into()))
    }
}

/// What a handler answers: the result (and `result_info` for lists).
pub(crate) type Answer = Result<Success, ApiError>;

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Success {
    pub status: u16,
    pub result: Value,
    pub result_info: Option<Value>,
    /// The envelope's `messages` (informational, e.g. the token check's).
    pub messages: Vec<Value>,
}

impl Success {
    /// 200 with `result`.
    pub fn ok(result: Value) -> Success {
        Success {
            status: 200,
            result,
            result_info: None,
            messages: Vec::new(),
        }
    }
}

/// The envelope of a success.
pub(crate) fn success_body(s: &Success) -> Value {
    let mut body = json!({
        "success": true,
        "errors": [],
        "messages": s.messages,
        "result": s.result,
    });
    if let Some(info) = &s.result_info {
        body["result_info"] = info.clone();
    }
    body
}

/// The envelope of a failure.
pub(crate) fn failure_body(e: &ApiError) -> Value {
    let mut error = json!({"code": e.code, "message": e.message});
    if !e.chain.is_empty() {
        error["error_chain"] = e
            .chain
            .iter()
            .map(|(code, message)| json!({"code": code, "message": message}))
            .collect();
    }
    json!({
        "success": false,
        "errors": [error],
        "messages": [],
        "result": null,
    })
}

/// `page` and `per_page` from the query (already schema-checked), with the
/// endpoint's default page size.
pub(crate) struct Page {
    pub page: u64,
    pub per_page: u64,
}

impl Page {
    /// Reads `page` (default 1) and `per_page` (default `default_per_page`).
    pub fn from_query(q: &[(String, String)], default_per_page: u64) -> Result<Page, ApiError> {
        let get = |k: &str| {
            q.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let num =
            |k: &str, default: u64| -> Result<u64, ApiError> {
                match get(k) {
                    None => Ok(default),
                    Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        ApiError::invalid(format!("{k}: must be a whole number ≥ 1"))
                    }),
                }
            };
        Ok(Page {
            page: num("page", 1)?,
            per_page: num("per_page", default_per_page)?,
        })
    }

    /// The page of `items` and its `result_info`.
    pub fn slice(&self, items: Vec<Value>) -> Success {
        let total = items.len() as u64;
        let start = (self.page - 1).saturating_mul(self.per_page);
        let page: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(usize::try_from(self.per_page).unwrap_or(usize::MAX))
            .collect();
        let info = json!({
            "page": self.page,
            "per_page": self.per_page,
            "count": page.len(),
            "total_count": total,
            "total_pages": total.div_ceil(self.per_page),
        });
        Success {
            status: 200,
            result: Value::Array(page),
            result_info: Some(info),
            messages: Vec::new(),
        }
    }
}

/// The last value of query parameter `key`.
pub(crate) fn query<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_the_list_and_count_it() {
        let items: Vec<Value> = (0..45).map(Value::from).collect();
        let q = vec![
            ("page".into(), "3".into()),
            ("per_page".into(), "20".into()),
        ];
        let s = Page::from_query(&q, 100).unwrap().slice(items);
        assert_eq!(s.result, json!([40, 41, 42, 43, 44]));
        let info = s.result_info.unwrap();
        assert_eq!(info["count"], 5);
        assert_eq!(info["total_count"], 45);
        assert_eq!(info["total_pages"], 3);
    }
}

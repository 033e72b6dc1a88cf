//! Extractors whose refusals are problem+json like every other error, and
//! never quote what the client sent (it may hold personal data).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::problem::{ApiError, ProblemKind};

/// Query parameters.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            // The message may quote the value; the schema says what fits.
            Err(_) => Err(ApiError::invalid(
                "the query parameters do not match the schema in /api/openapi.json",
            )),
        }
    }
}

/// Path parameters; a part that does not fit (an unknown document kind) is
/// a bad request, without quoting it.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    axum::extract::Path<T>:
        FromRequestParts<S, Rejection = axum::extract::rejection::PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::invalid(
                "the path does not match the schema in /api/openapi.json",
            )),
        }
    }
}

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(refusal(&rejection)),
        }
    }
}

/// An optional JSON body: none when the request sends no JSON at all.
impl<S, T> OptionalFromRequest<S> for JsonBody<T>
where
    axum::Json<T>: OptionalFromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        match <axum::Json<T> as OptionalFromRequest<S>>::from_request(request, state).await {
            Ok(value) => Ok(value.map(|axum::Json(value)| Self(value))),
            Err(rejection) => Err(refusal(&rejection)),
        }
    }
}

fn refusal(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::invalid("send the body as application/json")
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::invalid("the body is not valid JSON"),
        JsonRejection::JsonDataError(error) => {
            // serde names missing fields without values; other messages
            // may quote the value sent.
            let text = error.body_text();
            match text.find("missing field") {
                Some(start) => ApiError::invalid(
                    text[start..]
                        .split(" at line")
                        .next()
                        .unwrap_or("a field is missing")
                        .to_owned(),
                ),
                None => {
                    ApiError::invalid("the body does not match the schema in /api/openapi.json")
                }
            }
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ProblemKind::PayloadTooLarge, "the body is too large")
        }
        _ => ApiError::invalid("the body could not be read"),
    }
}

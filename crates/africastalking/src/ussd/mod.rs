//! USSD over Africa's Talking: AT posts a form per hop ([`UssdRequest`]), the app answers in plain
//! text ([`UssdResponse`]), and at the end AT posts a notification ([`SessionEvent`]).

mod event;
mod form;
mod request;
mod response;

pub use event::{SessionEvent, SessionStatus};
pub use form::{encode_form, FORM_CONTENT_TYPE};
pub use request::{UssdRequest, USER_AGENT};
pub use response::{ResponseError, UssdResponse, RESPONSE_CONTENT_TYPE};

//! The sandbox test MSISDNs and their fixed outcomes (A12, official "Sandbox Use Cases" table).
//! Any other number succeeds. Outcomes the table leaves open (which reason, how long "delayed"
//! waits) follow A12's simulator recommendation and are documented per row.

/// What a transfer to a number will end as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// SUCCESSFUL after `settle_after`.
    Succeed,
    /// SUCCESSFUL after `delayed_settle_after`.
    Delayed,
    /// PENDING for ever.
    Ongoing,
    /// FAILED after `settle_after`, with this reason (`None`: a bare FAILED).
    Fail(Option<&'static str>),
}

/// Transfer test numbers (A12, "TransferPayee…").
pub const TRANSFER_NUMBERS: [(&str, &str, TransferOutcome); 14] = [
    ("46733123450", "TransferPayeeFailed", TransferOutcome::Fail(None)),
    (
        "46733123451",
        "TransferPayeeRejected",
        TransferOutcome::Fail(Some("APPROVAL_REJECTED")),
    ),
    (
        "46733123452",
        "TransferPayeeExpired",
        TransferOutcome::Fail(Some("EXPIRED")),
    ),
    ("46733123453", "TransferPayeeOngoing", TransferOutcome::Ongoing),
    ("46733123454", "TransferPayeeDelayed", TransferOutcome::Delayed),
    (
        "46733123455",
        "TransferPayeeNotEnoughFunds",
        TransferOutcome::Fail(Some("NOT_ENOUGH_FUNDS")),
    ),
    (
        "46733123456",
        "TransferPayeePayerLimitReached",
        TransferOutcome::Fail(Some("PAYER_LIMIT_REACHED")),
    ),
    (
        "46733123457",
        "TransferPayeeNotFound",
        TransferOutcome::Fail(Some("PAYEE_NOT_FOUND")),
    ),
    (
        "46733123458",
        "TransferPayeeNotAllowed",
        TransferOutcome::Fail(Some("NOT_ALLOWED")),
    ),
    (
        "46733123459",
        "TransferPayeeNotAllowedTargetEnvironment",
        TransferOutcome::Fail(Some("NOT_ALLOWED_TARGET_ENVIRONMENT")),
    ),
    (
        "46733123460",
        "TransferPayeeInvalidCallbackUrlHost",
        TransferOutcome::Fail(Some("INVALID_CALLBACK_URL_HOST")),
    ),
    (
        "46733123461",
        "TransferPayeeInvalidCurrency",
        TransferOutcome::Fail(Some("INVALID_CURRENCY")),
    ),
    (
        "46733123462",
        "TransferPayeeInternalProcessingError",
        TransferOutcome::Fail(Some("INTERNAL_PROCESSING_ERROR")),
    ),
    (
        "46733123463",
        "TransferPayeeServiceUnavailable",
        TransferOutcome::Fail(Some("SERVICE_UNAVAILABLE")),
    ),
];

/// What the account-holder check answers for a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountOutcome {
    /// 404 RESOURCE_NOT_FOUND.
    NotFound,
    /// 200 `{"result":false}`.
    NotActive,
    /// This HTTP status with this business code.
    Error(u16, &'static str),
}

/// Account-holder test numbers (A12).
pub const ACCOUNT_NUMBERS: [(&str, AccountOutcome); 6] = [
    ("46733123450", AccountOutcome::NotFound),
    ("46733123451", AccountOutcome::NotActive),
    ("46733123452", AccountOutcome::Error(500, "NOT_ALLOWED")),
    (
        "46733123453",
        AccountOutcome::Error(500, "NOT_ALLOWED_TARGET_ENVIRONMENT"),
    ),
    ("46733123454", AccountOutcome::Error(500, "INTERNAL_PROCESSING_ERROR")),
    ("46733123455", AccountOutcome::Error(503, "SERVICE_UNAVAILABLE")),
];

/// The fixed outcome of a transfer to `msisdn`, if it is a test number.
pub fn transfer_outcome(msisdn: &str) -> Option<TransferOutcome> {
    TRANSFER_NUMBERS
        .iter()
        .find(|(number, _, _)| *number == msisdn)
        .map(|(_, _, outcome)| *outcome)
}

/// The fixed account-holder answer for `msisdn`, if it is a test number.
pub fn account_outcome(msisdn: &str) -> Option<AccountOutcome> {
    ACCOUNT_NUMBERS
        .iter()
        .find(|(number, _)| *number == msisdn)
        .map(|(_, outcome)| *outcome)
}

/// MoMo's text for a reason code, for `{"code","message"}` bodies.
pub fn reason_message(code: &str) -> &'static str {
    match code {
        "NOT_ENOUGH_FUNDS" => "The payer does not have enough funds.",
        "PAYER_LIMIT_REACHED" => "The payer's limit has been breached.",
        "PAYEE_NOT_FOUND" => "The payee could not be found.",
        "PAYEE_NOT_ALLOWED_TO_RECEIVE" => "The payee is not allowed to receive funds.",
        "NOT_ALLOWED" => "Authorization failed. User does not have permission.",
        "NOT_ALLOWED_TARGET_ENVIRONMENT" => "Access to target environment is forbidden.",
        "INVALID_CALLBACK_URL_HOST" => "Callback URL with different host than the one configured for the API user.",
        "INVALID_CURRENCY" => "Currency not supported.",
        "INTERNAL_PROCESSING_ERROR" => "An internal error occurred while processing.",
        "SERVICE_UNAVAILABLE" => "Service is unavailable.",
        "APPROVAL_REJECTED" => "The approval was rejected.",
        "EXPIRED" => "The request has expired.",
        "RESOURCE_NOT_FOUND" => "Requested resource was not found.",
        "RESOURCE_ALREADY_EXIST" => "Duplicated reference id. Creation of resource failed.",
        _ => "The request could not be processed.",
    }
}

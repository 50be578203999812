-- Issue 17, items 17 and 20 (decision 0024).
-- A FAILED attempt is recorded as what its reason is: NOT_ENOUGH_FUNDS holds the payout until the
-- account is topped up (`insufficient_funds`), a payee without a wallet waits for a person
-- (`payee_invalid`); neither is `terminal`.
alter table disbursement_attempts
    drop constraint disbursement_attempts_error_class_check,
    add constraint disbursement_attempts_error_class_check check (error_class is null or error_class in (
        'retryable', 'terminal', 'configuration', 'ambiguous', 'insufficient_funds', 'payee_invalid'));
update disbursement_attempts set error_class = 'insufficient_funds'
    where error_class = 'terminal' and error_code = 'NOT_ENOUGH_FUNDS';
update disbursement_attempts set error_class = 'payee_invalid'
    where error_class = 'terminal' and error_code in ('PAYEE_NOT_FOUND', 'PAYEE_NOT_ALLOWED_TO_RECEIVE');

-- Reconciliation reports a payout whose payee has no MoMo wallet as unpaid, not as a match.
alter table reconciliation_items
    drop constraint reconciliation_items_kind_check,
    add constraint reconciliation_items_kind_check check (kind in (
        'match', 'status_mismatch', 'amount_mismatch', 'missing_at_momo', 'missing_here',
        'pending_too_long', 'successful_at_momo_not_here', 'paid_here_unknown_to_momo', 'unchecked',
        'unpaid_payee_invalid'));

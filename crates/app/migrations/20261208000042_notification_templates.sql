-- Notification templates in use (issue 22, part 5; decision 0045): who saved each last and how
-- often, one version row per save or reset (the before and after, for the history and the
-- processes that cache templates: their version is the highest here), and the default wording
-- of every template the code knows (`templates::catalogue`; a test holds the two together).
alter table notification_templates
    add column version            integer not null default 1,
    add column updated_by_user_id uuid references users (id) on delete restrict;

create table notification_template_versions (
    version            bigint generated always as identity primary key,
    template_id        uuid not null references notification_templates (id) on delete cascade,
    subject            text,
    body               text not null,
    previous_subject   text,
    previous_body      text not null,
    -- the default wording put back
    reset              boolean not null default false,
    changed_by_user_id uuid references users (id) on delete restrict,
    changed_at         timestamptz not null
);
create index notification_template_versions_template_idx
    on notification_template_versions (template_id, version desc);

insert into notification_templates (key, channel, locale, subject, body, created_at, updated_at) values
    ('redemption.succeeded', 'ussd', 'en', null, 'Congratulations! You won {amount} {currency}. You will receive it on MoMo shortly.', now(), now()),
    ('redemption.succeeded', 'ussd', 'rw', null, 'Murakoze! Mwatsindiye {amount} {currency}. Muzayakira kuri MoMo mu kanya.', now(), now()),
    ('redemption.succeeded', 'sms', 'en', null, 'MBELYCO: Congratulations! You won {amount} {currency}. You will receive it on MoMo shortly.', now(), now()),
    ('redemption.succeeded', 'sms', 'rw', null, 'MBELYCO: Murakoze! Mwatsindiye {amount} {currency}. Muzayakira kuri MoMo mu kanya.', now(), now()),
    ('redemption.succeeded', 'email', 'en', 'Code {code_masked} redeemed', '{phone_masked} redeemed code {code_masked} of batch {batch} for {amount} {currency}.', now(), now()),
    ('redemption.succeeded', 'email', 'rw', 'Code {code_masked} redeemed', '{phone_masked} redeemed code {code_masked} of batch {batch} for {amount} {currency}.', now(), now()),
    ('redemption.failed.unknown_code', 'ussd', 'en', null, 'This code does not exist. Check the code on your tin and dial again.', now(), now()),
    ('redemption.failed.unknown_code', 'ussd', 'rw', null, 'Iyi kode ntibaho. Reba neza kode iri ku irangi wongere uhamagare.', now(), now()),
    ('redemption.failed.already_redeemed', 'ussd', 'en', null, 'This code has already been used.', now(), now()),
    ('redemption.failed.already_redeemed', 'ussd', 'rw', null, 'Iyi kode yamaze gukoreshwa.', now(), now()),
    ('redemption.failed.expired', 'ussd', 'en', null, 'This code has expired.', now(), now()),
    ('redemption.failed.expired', 'ussd', 'rw', null, 'Igihe cy''iyi kode cyararangiye.', now(), now()),
    ('redemption.failed.blocked', 'ussd', 'en', null, 'This code is blocked.', now(), now()),
    ('redemption.failed.blocked', 'ussd', 'rw', null, 'Iyi kode yahagaritswe.', now(), now()),
    ('redemption.failed.campaign_closed', 'ussd', 'en', null, 'This promotion is no longer running.', now(), now()),
    ('redemption.failed.campaign_closed', 'ussd', 'rw', null, 'Iyi poromosiyo ntikiri gukora.', now(), now()),
    ('redemption.failed.customer_limit', 'ussd', 'en', null, 'You have reached the prize limit for now. Try again tomorrow.', now(), now()),
    ('redemption.failed.customer_limit', 'ussd', 'rw', null, 'Wageze ku mubare ntarengwa w''ibihembo. Ongera ugerageze ejo.', now(), now()),
    ('redemption.failed.cooling_down', 'ussd', 'en', null, 'You won a prize a short while ago. Prizes are {minutes} minutes apart: please try again later.', now(), now()),
    ('redemption.failed.cooling_down', 'ussd', 'rw', null, 'Mwatsindiye igihembo vuba aha. Hagati y''ibihembo bibiri hategerezwa iminota {minutes}. Ongera ugerageze nyuma.', now(), now()),
    ('redemption.failed.too_many_attempts', 'ussd', 'en', null, 'Too many attempts. Please wait a while and try again.', now(), now()),
    ('redemption.failed.too_many_attempts', 'ussd', 'rw', null, 'Wagerageje inshuro nyinshi. Tegereza gato wongere ugerageze.', now(), now()),
    ('redemption.failed', 'sms', 'en', null, 'MBELYCO: code {code_masked} was not accepted. {reason}', now(), now()),
    ('redemption.failed', 'sms', 'rw', null, 'MBELYCO: {reason}', now(), now()),
    ('redemption.failed', 'email', 'en', 'Code {code_masked} refused', '{phone_masked} tried code {code_masked} of batch {batch}: {reason}', now(), now()),
    ('redemption.failed', 'email', 'rw', 'Code {code_masked} refused', '{phone_masked} tried code {code_masked} of batch {batch}: {reason}', now(), now()),
    ('disbursement.succeeded', 'sms', 'en', null, 'MBELYCO: you received {amount} {currency} on MoMo for your promo code.{ref} Thank you!', now(), now()),
    ('disbursement.succeeded', 'sms', 'rw', null, 'MBELYCO: mwakiriye {amount} {currency} kuri MoMo kubera kode ya poromosiyo.{ref} Murakoze!', now(), now()),
    ('disbursement.succeeded', 'email', 'en', 'Payout of {amount} {currency} completed', '{amount} {currency} reached {phone_masked} on MoMo for code {code_masked} of batch {batch}.{ref}', now(), now()),
    ('disbursement.succeeded', 'email', 'rw', 'Payout of {amount} {currency} completed', '{amount} {currency} reached {phone_masked} on MoMo for code {code_masked} of batch {batch}.{ref}', now(), now()),
    ('disbursement.failed', 'sms', 'en', null, 'MBELYCO: we could not send {amount} {currency} to your MoMo yet. We are working on it.', now(), now()),
    ('disbursement.failed', 'sms', 'rw', null, 'MBELYCO: Ihangane, habaye ikosa mu kohereza {amount} {currency} kuri MoMo. Turabikurikirana.', now(), now()),
    ('disbursement.failed', 'email', 'en', 'Payout of {amount} {currency} failed', 'The payout of {amount} {currency} to {phone_masked} for code {code_masked} (batch {batch}) failed: {reason}', now(), now()),
    ('disbursement.failed', 'email', 'rw', 'Payout of {amount} {currency} failed', 'The payout of {amount} {currency} to {phone_masked} for code {code_masked} (batch {batch}) failed: {reason}', now(), now()),
    ('alert.raised', 'email', 'en', '[{severity}] {title}', E'{title}\n\n{details}\n\nOpen it: {link}', now(), now()),
    ('alert.raised', 'email', 'rw', '[{severity}] {title}', E'{title}\n\n{details}\n\nOpen it: {link}', now(), now()),
    ('alert.raised', 'sms', 'en', null, 'MBELYCO {severity}: {title} {link}', now(), now()),
    ('alert.raised', 'sms', 'rw', null, 'MBELYCO {severity}: {title} {link}', now(), now()),
    ('report.ready', 'email', 'en', 'Report ready: {title}', 'The report {title} is ready: {link}', now(), now()),
    ('report.ready', 'email', 'rw', 'Report ready: {title}', 'The report {title} is ready: {link}', now(), now()),
    ('report.ready', 'sms', 'en', null, 'MBELYCO: report {title} is ready: {link}', now(), now()),
    ('report.ready', 'sms', 'rw', null, 'MBELYCO: report {title} is ready: {link}', now(), now())
on conflict on constraint notification_templates_key_channel_locale_key do nothing;

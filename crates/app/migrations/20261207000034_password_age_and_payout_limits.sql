-- Settings console, payments and security (issue #20, decision 0037):
-- a session whose password is older than `security.passwordMaxAgeDays` may only change it;
alter table sessions drop constraint sessions_stage_check;
alter table sessions add constraint sessions_stage_check
    check (stage in ('password', 'mfa_enrol', 'password_expired', 'full'));

-- a payout approved past the monthly payout limit is paid even though the month is still over it;
alter table disbursements add column approved_over_limit boolean not null default false;

-- `security.twoFactorRequired` and `security.registration.requireApproval` are gone: two-factor
-- sign-in and the approval of a registration are not optional.
delete from system_settings where category = 'security' and key = 'twoFactorRequired';
update system_settings set value = value - 'requireApproval'
 where category = 'security' and key = 'registration' and jsonb_typeof(value) = 'object';
-- (and from the versions a rollback restores)
update setting_versions
   set snapshot = snapshot #- '{security,registration,requireApproval}' #- '{security,twoFactorRequired}'
 where snapshot ? 'security';

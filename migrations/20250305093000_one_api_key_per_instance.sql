-- migrate:up
-- A user holds one key per instance. Where older versions created several,
-- keep the most recently used one so the constraint can be added.
delete from api_keys k
 using api_keys keep
 where keep.user_id = k.user_id
   and keep.instance_id = k.instance_id
   and (coalesce(keep.last_used_at, keep.created_at), keep.id)
     > (coalesce(k.last_used_at, k.created_at), k.id);

alter table api_keys
  add constraint api_keys_user_instance_key unique (user_id, instance_id);

-- migrate:down
alter table api_keys drop constraint api_keys_user_instance_key;

create table projects (
  id serial primary key,
  name text not null
);
create table preview_jobs (
  id text primary key,
  project text not null,
  status text not null,
  created_at timestamptz not null default now()
);

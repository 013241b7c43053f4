# s3_versions.sh - the versioning S3 fake (tests/fakes/s3_versions.py) for
# shell tests.  Source it, then:
#   s3v_start DIR      sets S3V_PORT, S3V_URL, S3V_PID (S3V_PAGE_CAP=N: listing
#                      pages of at most N entries)
#   s3v_stop
#   s3v_ctl METHOD PATH [BODY]   control calls (stats, log, deny)
#   s3v_env            exports the credentials the fake accepts as AWS_*
#   s3v_aws ARGS...    Debian's AWS CLI against the fake (the "other writer")
S3V_AKID=AKIDREVENANTS3
S3V_SECRET=revenant/s3+fake/secret
S3V_PID=

s3v_start() {
	local dir=$1 i
	mkdir -p "$dir"
	rm -f "$dir/port"
	/usr/bin/python3 "${RV_TESTDIR:?}/fakes/s3_versions.py" --port-file "$dir/port" \
		--access-key "$S3V_AKID" --secret-key "$S3V_SECRET" \
		--page-cap "${S3V_PAGE_CAP:-1000}" --log "$dir/s3v.log" \
		>"$dir/fake.out" 2>&1 &
	S3V_PID=$!
	for ((i = 0; i < 400; i++)); do
		[[ -s $dir/port ]] && break
		sleep 0.025
	done
	[[ -s $dir/port ]] || {
		cat "$dir/fake.out" >&2
		return 1
	}
	S3V_PORT=$(cat "$dir/port")
	S3V_URL=http://127.0.0.1:$S3V_PORT
}

s3v_stop() {
	if [[ -n $S3V_PID ]]; then
		kill "$S3V_PID" 2>/dev/null
		wait "$S3V_PID" 2>/dev/null || true
		S3V_PID=
	fi
}

s3v_ctl() {
	curl -sf -X "$1" ${3:+--data-binary "$3"} "$S3V_URL$2"
}

s3v_env() {
	export AWS_ACCESS_KEY_ID=$S3V_AKID AWS_SECRET_ACCESS_KEY=$S3V_SECRET
	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
}

s3v_aws() {
	/usr/bin/aws --endpoint-url "$S3V_URL" "$@"
}

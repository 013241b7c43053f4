# route53.sh - the Route 53 fake (tests/fakes/route53.py) for shell tests
# and benchmarks.  Source it, then:
#   route53_start DIR [STATE.json] [INSYNC_DELAY]  sets R53_PORT, R53_URL, R53_PID
#   route53_stop
#   route53_ctl METHOD PATH [BODY]                 control calls (state, faults, stats)
# Credentials the fake accepts: R53_AKID / R53_SECRET (exported as AWS_*
# by route53_env for the AWS CLI).
R53_AKID=AKIDREVENANTTEST
R53_SECRET=revenant/route53+fake/secret
R53_ZONE=Z1EXAMPLE
R53_PID=

route53_start() {
	local dir=$1 state=${2:-} delay=${3:-0} i
	mkdir -p "$dir"
	[[ -n $state ]] || {
		state=$dir/state.json
		echo '[]' >"$state"
	}
	rm -f "$dir/port"
	/usr/bin/python3 "${RV_TESTDIR:?}/fakes/route53.py" --port-file "$dir/port" \
		--state "$state" --zone-id "$R53_ZONE" --insync-delay "$delay" \
		--access-key "$R53_AKID" --secret-key "$R53_SECRET" --log "$dir/route53.log" \
		>"$dir/fake.out" 2>&1 &
	R53_PID=$!
	for ((i = 0; i < 200; i++)); do
		[[ -s $dir/port ]] && break
		sleep 0.025
	done
	[[ -s $dir/port ]] || {
		cat "$dir/fake.out" >&2
		return 1
	}
	R53_PORT=$(cat "$dir/port")
	R53_URL=http://127.0.0.1:$R53_PORT
}

route53_stop() {
	if [[ -n $R53_PID ]]; then
		kill "$R53_PID" 2>/dev/null || true
		wait "$R53_PID" 2>/dev/null || true # a set -e trap must go on
		R53_PID=
	fi
}

route53_ctl() {
	curl -sf -X "$1" ${3:+--data-binary "$3"} "$R53_URL$2"
}

route53_env() {
	export AWS_ACCESS_KEY_ID=$R53_AKID AWS_SECRET_ACCESS_KEY=$R53_SECRET
	export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	unset AWS_SESSION_TOKEN AWS_PROFILE
}

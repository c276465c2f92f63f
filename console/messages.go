package console

import (
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Lang is a language the console speaks.
type Lang string

// The console's languages.
const (
	English Lang = "en"
	Chinese Lang = "zh-CN"
)

// langCookie remembers the language a user switched to.
const langCookie = "kubegate_lang"

// message is one string of the console in every language it speaks; a test
// refuses a message missing in either.
type message struct{ en, zh string }

// catalog holds every string the console shows. Templates and the script name
// messages by key; the script's strings reach it through data attributes.
//
//nolint:gochecknoglobals // a constant table.
var catalog = map[string]message{
	"product":                      {"kubegate", "kubegate"},
	"lang.switch":                  {"中文", "English"},
	"nav.main":                     {"Main", "主导航"},
	"menu.keys":                    {"Access keys", "访问密钥"},
	"menu.password":                {"Change password", "修改密码"},
	"menu.apidocs":                 {"API docs", "API 文档"},
	"menu.logout":                  {"Log out", "退出登录"},
	"nav.keys":                     {"Access keys", "访问密钥"},
	"nav.clusters":                 {"Clusters", "集群"},
	"login.title":                  {"Log in", "登录"},
	"login.name":                   {"User name", "用户名"},
	"login.password":               {"Password", "密码"},
	"login.submit":                 {"Log in", "登录"},
	"login.tagline":                {"One OpenAPI endpoint for all your Kubernetes clusters", "一个 OpenAPI 入口，访问所有 Kubernetes 集群"},
	"error.ratelimit":              {"Too many attempts: try again in %s s.", "尝试次数过多，请 %s 秒后再试。"},
	"error.generic":                {"Something went wrong: %s", "出错了：%s"},
	"keys.title":                   {"Access keys", "访问密钥"},
	"keys.intro":                   {"Scripts exchange an access key pair for a short-lived bearer token, then call the Kubernetes API of any cluster through the gateway.", "脚本用访问密钥对换取短期有效的 Bearer Token，再通过网关调用任意集群的 Kubernetes API。"},
	"keys.add":                     {"Add key", "添加密钥"},
	"keys.limit":                   {"You have %d of %d keys: delete one to add another.", "已有 %d 个密钥（上限 %d 个），请先删除一个再添加。"},
	"keys.count":                   {"%d of %d keys", "%d / %d 个密钥"},
	"keys.empty":                   {"No access keys yet. Add one to call the API from a script.", "还没有访问密钥。添加一个，即可在脚本中调用 API。"},
	"keys.col.accessKey":           {"Access key", "Access Key"},
	"keys.col.description":         {"Description", "描述"},
	"keys.col.status":              {"Status", "状态"},
	"keys.col.created":             {"Created", "创建时间"},
	"keys.col.lastUsed":            {"Last used", "最近使用"},
	"keys.col.expires":             {"Expires", "过期时间"},
	"keys.col.actions":             {"Actions", "操作"},
	"keys.never":                   {"Never", "从未"},
	"keys.noExpiry":                {"Never expires", "永不过期"},
	"keys.status.Active":           {"Active", "启用"},
	"keys.status.Inactive":         {"Disabled", "已禁用"},
	"keys.status.Expired":          {"Expired", "已过期"},
	"keys.disable":                 {"Disable", "禁用"},
	"keys.enable":                  {"Enable", "启用"},
	"keys.delete":                  {"Delete", "删除"},
	"keys.confirmDelete":           {"Delete access key %s? Scripts using it stop working at once.", "确定删除访问密钥 %s？使用它的脚本将立即失效。"},
	"keys.new.title":               {"Add an access key", "添加访问密钥"},
	"keys.new.description":         {"Description (optional)", "描述（可选）"},
	"keys.new.expires":             {"Expires (optional)", "过期时间（可选）"},
	"keys.new.create":              {"Create", "创建"},
	"keys.new.localTime":           {"(your local time; the table shows UTC)", "（本地时间；列表中显示 UTC 时间）"},
	"keys.created.title":           {"Access key created", "访问密钥已创建"},
	"keys.created.warning":         {"Copy the secret key now: you will not see it again.", "请立即复制 Secret Key：关闭后将无法再次查看。"},
	"keys.secretKey":               {"Secret key", "Secret Key"},
	"keys.copy":                    {"Copy", "复制"},
	"keys.copied":                  {"Copied", "已复制"},
	"dialog.cancel":                {"Cancel", "取消"},
	"dialog.close":                 {"Close", "关闭"},
	"dialog.confirm":               {"Confirm", "确认"},
	"howto.title":                  {"How to call the API", "如何调用 API"},
	"howto.kubecube":               {"Get a token (KubeCube style)", "获取 Token（KubeCube 方式）"},
	"howto.dce":                    {"Get a token (DCE 5.0 style)", "获取 Token（DCE 5.0 方式）"},
	"howto.list":                   {"List deployments with filtering, sorting and paging", "带过滤、排序、分页地列出 Deployment"},
	"howto.kubeconfig":             {"Use kubectl with a gateway kubeconfig", "通过网关 kubeconfig 使用 kubectl"},
	"howto.noCluster":              {"No cluster is registered yet: the commands use a placeholder name.", "尚未注册集群，命令中使用了占位名称。"},
	"clusters.title":               {"Clusters", "集群"},
	"clusters.intro":               {"Every cluster registered with the gateway. Scripts reach one at /api/v1/cube/proxy/clusters/{name}/…, as kubectl does through a gateway kubeconfig.", "网关中注册的所有集群。脚本通过 /api/v1/cube/proxy/clusters/{name}/… 访问集群，kubectl 则使用网关 kubeconfig。"},
	"clusters.empty":               {"No cluster is registered yet.", "尚未注册任何集群。"},
	"clusters.add":                 {"Register cluster", "注册集群"},
	"clusters.col.name":            {"Name", "名称"},
	"clusters.col.status":          {"Health", "健康状态"},
	"clusters.col.version":         {"Kubernetes version", "Kubernetes 版本"},
	"clusters.col.checked":         {"Last check", "最近检查"},
	"clusters.col.server":          {"API server", "API Server"},
	"clusters.kubeconfig":          {"Download kubeconfig", "下载 kubeconfig"},
	"clusters.delete":              {"Delete", "删除"},
	"clusters.confirm":             {"Delete cluster %s from the gateway? The cluster itself is not touched; scripts lose access through the gateway at once.", "确定从网关删除集群 %s？集群本身不受影响，脚本将立即无法通过网关访问它。"},
	"clusters.status.Ready":        {"Ready", "正常"},
	"clusters.status.Unreachable":  {"Unreachable", "无法连接"},
	"clusters.status.Unauthorized": {"Unauthorized", "认证失败"},
	"clusters.status.Unknown":      {"Not checked yet", "尚未检查"},
	"clusters.new.title":           {"Register a cluster", "注册集群"},
	"clusters.new.name":            {"Name", "名称"},
	"clusters.new.kubeconfig":      {"Kubeconfig (inline credentials only: no file paths or exec plugins)", "Kubeconfig（仅支持内联凭据：不支持文件路径或 exec 插件）"},
	"clusters.new.context":         {"Context (optional: the current context by default)", "Context（可选，默认为当前 context）"},
	"clusters.new.description":     {"Description (optional)", "描述（可选）"},
	"clusters.new.register":        {"Register", "注册"},
	"nav.users":                    {"Users", "用户"},
	"users.title":                  {"Users", "用户"},
	"users.intro":                  {"Local users of the gateway. Disabling a user or resetting their password ends their sessions and tokens at once.", "网关的本地用户。禁用用户或重置密码会立即使其所有会话和 Token 失效。"},
	"users.search":                 {"Search by name or email", "按名称或邮箱搜索"},
	"users.searchButton":           {"Search", "搜索"},
	"users.empty":                  {"No user matches.", "没有匹配的用户。"},
	"users.total":                  {"Users: %d · page %d of %d", "共 %d 个用户 · 第 %d / %d 页"},
	"users.prev":                   {"Previous", "上一页"},
	"users.next":                   {"Next", "下一页"},
	"users.add":                    {"Add user", "添加用户"},
	"users.col.name":               {"Name", "用户名"},
	"users.col.email":              {"Email", "邮箱"},
	"users.col.role":               {"Role", "角色"},
	"users.col.status":             {"Status", "状态"},
	"users.col.created":            {"Created", "创建时间"},
	"users.col.lastLogin":          {"Last login", "最近登录"},
	"users.role.admin":             {"Administrator", "管理员"},
	"users.role.user":              {"User", "普通用户"},
	"users.enabled":                {"Enabled", "启用"},
	"users.disabled":               {"Disabled", "已禁用"},
	"users.enable":                 {"Enable", "启用"},
	"users.disable":                {"Disable", "禁用"},
	"users.makeAdmin":              {"Make admin", "设为管理员"},
	"users.unmakeAdmin":            {"Remove admin", "取消管理员"},
	"users.resetPassword":          {"Reset password", "重置密码"},
	"users.delete":                 {"Delete", "删除"},
	"users.you":                    {"you", "你"},
	"users.confirm":                {"Delete user %s and all their access keys and tokens?", "确定删除用户 %s 及其所有访问密钥和 Token？"},
	"users.new.title":              {"Add a user", "添加用户"},
	"users.new.name":               {"User name", "用户名"},
	"users.new.password":           {"Initial password", "初始密码"},
	"users.new.email":              {"Email (optional)", "邮箱（可选）"},
	"users.new.create":             {"Create", "创建"},
	"users.reset.title":            {"Reset the password of %s", "重置 %s 的密码"},
	"users.reset.password":         {"New password", "新密码"},
	"users.reset.submit":           {"Reset password", "重置密码"},
	"password.title":               {"Change password", "修改密码"},
	"password.old":                 {"Current password", "当前密码"},
	"password.new":                 {"New password", "新密码"},
	"password.submit":              {"Change password", "修改密码"},
	"password.done":                {"Password changed. Every session and token, this one included, has ended: log in again with the new password.", "密码已修改。包括当前会话在内的所有会话和 Token 均已失效，请使用新密码重新登录。"},
	"password.login":               {"Log in again", "重新登录"},
}

// T returns the message key in lang, formatted with args; an unknown key shows
// itself, so a missing entry is visible on the page and caught by the tests.
func (l Lang) T(key string) string {
	m, ok := catalog[key]
	if !ok {
		return key
	}
	if l == Chinese {
		return m.zh
	}
	return m.en
}

//nolint:gochecknoglobals // a constant matcher over the catalog's languages.
var matcher = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})

// langOf picks the language of a request: the one the user switched to, else the
// best match of Accept-Language, else English.
func langOf(r *http.Request) Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No || i != 1 {
		return English
	}
	return Chinese
}

func parseLang(s string) (Lang, bool) {
	switch strings.ToLower(s) {
	case "en":
		return English, true
	case "zh-cn", "zh":
		return Chinese, true
	}
	return "", false
}

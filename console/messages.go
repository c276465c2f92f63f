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
	"howto.secret":                 {"First put the secret key shown when you created the key in $SECRET_KEY (read -rs SECRET_KEY keeps it out of your shell history); the commands use jq.", "先将创建密钥时显示的 Secret Key 存入 $SECRET_KEY（用 read -rs SECRET_KEY 输入可避免留在命令历史中）；命令需要 jq。"},
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
	"clusters.col.cache":           {"List cache", "列表缓存"},
	"clusters.cache.disabled":      {"Off (--list-cache=false)", "已关闭（--list-cache=false）"},
	"clusters.cache.on":            {"On", "开启"},
	"clusters.cache.partly":        {"Partly off", "部分关闭"},
	"clusters.cache.collections":   {"%d cached", "已缓存 %d 类资源"},
	"clusters.cache.refused":       {"Off for %s: the gateway may not list and watch it", "%s 未缓存：网关无权 list 和 watch"},
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
	"nav.search":                   {"Search", "搜索"},
	"search.title":                 {"Search across clusters", "跨集群搜索"},
	"search.intro":                 {"One query over every cluster you reach, or those you tick: each cluster's own RBAC decides what you see. The same call for scripts is below.", "一次查询覆盖你可访问的所有集群（或勾选的集群），每个集群按其自身的 RBAC 决定你能看到什么。脚本可用的同一调用见下方。"},
	"search.resource":              {"Resource", "资源"},
	"search.namespace":             {"Namespace (optional)", "命名空间（可选）"},
	"search.selector":              {"Selector", "筛选条件"},
	"search.selectorHint":          {"e.g. metadata.labels.app=web,metadata.name~api", "例如 metadata.labels.app=web,metadata.name~api"},
	"search.clusters":              {"Clusters (none ticked: all)", "集群（不勾选即全部）"},
	"search.sort":                  {"Sort by", "排序"},
	"search.sort.name":             {"Name", "名称"},
	"search.sort.created":          {"Created", "创建时间"},
	"search.sort.namespace":        {"Namespace", "命名空间"},
	"search.order.asc":             {"Ascending", "升序"},
	"search.order.desc":            {"Descending", "降序"},
	"search.run":                   {"Search", "搜索"},
	"search.col.cluster":           {"Cluster", "集群"},
	"search.col.namespace":         {"Namespace", "命名空间"},
	"search.col.name":              {"Name", "名称"},
	"search.col.created":           {"Created", "创建时间"},
	"search.col.labels":            {"Labels", "标签"},
	"search.total":                 {"%d found", "共 %d 个"},
	"search.found":                 {"%s: %d", "%s：%d 个"},
	"search.failed":                {"%s did not answer: %s", "%s 未返回结果：%s"},
	"search.empty":                 {"Nothing matches.", "没有匹配的对象。"},
	"search.curl":                  {"The same call with a token", "使用 Token 的同一调用"},
	"search.pages":                 {"Page %d of %d", "第 %d / %d 页"},
	"nav.users":                    {"Users", "用户"},
	"nav.teams":                    {"Teams", "团队"},
	"nav.grants":                   {"Access", "授权"},
	"nav.access":                   {"My access", "我的权限"},
	"menu.access":                  {"My access", "我的权限"},
	"teams.title":                  {"Teams", "团队"},
	"teams.intro":                  {"Named groups of users. Members act in every cluster with the team's group as well as their own; joining and leaving apply to existing tokens within a second.", "用户的命名分组。成员在每个集群中同时以团队的组身份行事；加入和离开会在一秒内对已签发的 Token 生效。"},
	"teams.add":                    {"New team", "新建团队"},
	"teams.empty":                  {"No team yet.", "还没有团队。"},
	"teams.col.name":               {"Team", "团队"},
	"teams.col.members":            {"Members", "成员"},
	"teams.col.group":              {"Kubernetes group", "Kubernetes 组"},
	"teams.noMembers":              {"no members", "暂无成员"},
	"teams.remove":                 {"Remove %s", "移除 %s"},
	"teams.addMember":              {"Add member", "添加成员"},
	"teams.addMember.title":        {"Add a member to %s", "向 %s 添加成员"},
	"teams.addMember.user":         {"User name", "用户名"},
	"teams.delete":                 {"Delete", "删除"},
	"teams.confirm":                {"Delete team %s? Its members lose its group at once, and its grants go.", "删除团队 %s？其成员将立即失去该组身份，团队的授权也会删除。"},
	"teams.confirmRemove":          {"Remove %s from %s?", "将 %s 从 %s 中移除？"},
	"teams.new.title":              {"New team", "新建团队"},
	"teams.new.name":               {"Name (lower-case letters, digits, -)", "名称（小写字母、数字、-）"},
	"teams.new.description":        {"Description", "描述"},
	"teams.new.members":            {"Members (user names, comma-separated)", "成员（用户名，逗号分隔）"},
	"teams.new.create":             {"Create", "创建"},
	"grants.title":                 {"Access", "授权"},
	"grants.intro":                 {"Roles granted to users and teams across clusters. The gateway keeps the RoleBindings they imply in every cluster and repairs them when they are changed by hand; each cluster says whether it holds them.", "跨集群授予用户和团队的角色。网关在每个集群中维护对应的 RoleBinding，被手工修改时会自动修复；每个集群单独显示是否已生效。"},
	"grants.add":                   {"Grant access", "授予权限"},
	"grants.empty":                 {"Nothing granted yet.", "尚未授予任何权限。"},
	"grants.col.subject":           {"Who", "对象"},
	"grants.col.role":              {"Role", "角色"},
	"grants.col.clusters":          {"Clusters", "集群"},
	"grants.col.where":             {"Namespaces", "命名空间"},
	"grants.col.status":            {"Status per cluster", "各集群状态"},
	"grants.kind.team":             {"Team", "团队"},
	"grants.kind.user":             {"User", "用户"},
	"grants.allClusters":           {"All clusters (also those registered later)", "所有集群（包括以后注册的）"},
	"grants.allNamespaces":         {"All namespaces (also those created later)", "所有命名空间（包括以后创建的）"},
	"grants.clusterWide":           {"Cluster-wide", "整个集群"},
	"grants.notYet":                {"not reconciled yet", "尚未同步"},
	"grants.noCluster":             {"no registered cluster", "没有已注册的集群"},
	"grants.state.Applied":         {"Applied", "已生效"},
	"grants.state.Pending":         {"Pending", "等待中"},
	"grants.state.Failed":          {"Failed", "失败"},
	"grants.delete":                {"Revoke", "撤销"},
	"grants.confirm":               {"Revoke the grant to %s? Its bindings go from every cluster.", "撤销授予 %s 的权限？其在所有集群中的绑定都将删除。"},
	"grants.new.title":             {"Grant access", "授予权限"},
	"grants.new.kind":              {"To a", "授予"},
	"grants.new.subject":           {"Team or user name", "团队或用户名"},
	"grants.new.role":              {"Role", "角色"},
	"grants.new.clusters":          {"Clusters", "集群"},
	"grants.new.namespaces":        {"Namespaces (comma-separated, * for all)", "命名空间（逗号分隔，* 表示全部）"},
	"grants.new.clusterWide":       {"Cluster-wide instead (a ClusterRoleBinding)", "改为整个集群（ClusterRoleBinding）"},
	"grants.new.create":            {"Grant", "授予"},
	"access.title":                 {"My access", "我的权限"},
	"access.titleOf":               {"Access of %s", "%s 的权限"},
	"access.intro":                 {"What you may actually do, as each cluster's own RBAC decides: from grants made here and from bindings made in the cluster. Hover a cell for the rules.", "各集群自身的 RBAC 判定的实际权限：包括此处的授权和集群中直接创建的绑定。鼠标悬停可查看规则。"},
	"access.user":                  {"User", "用户"},
	"access.show":                  {"Show", "查看"},
	"access.namespace":             {"Namespace", "命名空间"},
	"access.level.all":             {"All", "全部"},
	"access.level.write":           {"Write", "读写"},
	"access.level.read":            {"Read", "只读"},
	"access.level.none":            {"None", "无"},
	"access.error":                 {"Unknown", "未知"},
	"access.empty":                 {"No namespace on this page.", "本页没有命名空间。"},
	"access.pages":                 {"Page %d of %d", "第 %d / %d 页"},
	"nav.audit":                    {"Audit", "审计"},
	"nav.settings":                 {"Settings", "设置"},
	"settings.title":               {"Credential lifetime policy", "凭据有效期策略"},
	"settings.intro":               {"Limits for the access keys and personal access tokens users create from now on; existing ones keep their expiry. Every replica applies a change within a second.", "限制用户此后创建的访问密钥和个人访问令牌；已有凭据的过期时间不变。所有副本会在一秒内应用更改。"},
	"settings.keys":                {"Access keys", "访问密钥"},
	"settings.keyMax":              {"Longest lifetime (days)", "最长有效期（天）"},
	"settings.keyMaxHint":          {"0: no limit. With a limit, every new key must have an expiry within it.", "0 表示不限制。设置上限后，新建密钥必须设置不超过上限的过期时间。"},
	"settings.keyRequired":         {"Every new key must have an expiry", "新建密钥必须设置过期时间"},
	"settings.tokens":              {"Personal access tokens", "个人访问令牌"},
	"settings.tokenMax":            {"Longest lifetime (days)", "最长有效期（天）"},
	"settings.tokenMaxHint":        {"A token created without an expiry gets this lifetime.", "未设置过期时间的令牌将使用此有效期。"},
	"settings.save":                {"Save", "保存"},
	"settings.saved":               {"Saved: new credentials follow this policy.", "已保存：新建凭据将遵循此策略。"},
	"keys.new.expiresRequired":     {"Expires (required)", "过期时间（必填）"},
	"keys.new.maxLifetime":         {"The lifetime policy: at most %s days from now.", "有效期策略：自现在起最多 %s 天。"},
	"keys.new.mustExpire":          {"The lifetime policy: every key must expire.", "有效期策略：密钥必须设置过期时间。"},
	"audit.title":                  {"Audit log", "审计日志"},
	"audit.intro":                  {"Every call made with your credentials and your console logins, newest first.", "使用您的凭据和控制台登录发起的每一次调用，按时间倒序排列。"},
	"audit.introAdmin":             {"Every call through the gateway, by everyone, newest first.", "所有人经由网关发起的每一次调用，按时间倒序排列。"},
	"audit.filter":                 {"Filter the audit log", "筛选审计日志"},
	"audit.any":                    {"Any", "全部"},
	"audit.since":                  {"From", "开始时间"},
	"audit.until":                  {"To", "结束时间"},
	"audit.apply":                  {"Apply", "筛选"},
	"audit.clear":                  {"Clear filters", "清除筛选"},
	"audit.col.time":               {"Time (UTC)", "时间 (UTC)"},
	"audit.col.user":               {"User", "用户"},
	"audit.col.cluster":            {"Cluster", "集群"},
	"audit.col.request":            {"Request", "请求"},
	"audit.col.status":             {"Status", "状态码"},
	"audit.col.latency":            {"Latency", "耗时"},
	"audit.col.source":             {"Source address", "来源地址"},
	"audit.status.2xx":             {"2xx success", "2xx 成功"},
	"audit.status.3xx":             {"3xx redirect", "3xx 重定向"},
	"audit.status.4xx":             {"4xx refused or invalid", "4xx 拒绝或无效"},
	"audit.status.5xx":             {"5xx failed", "5xx 失败"},
	"audit.session":                {"console login", "控制台登录"},
	"audit.refusedByScope":         {"refused by scope", "被作用范围拒绝"},
	"audit.empty":                  {"No calls recorded yet.", "还没有调用记录。"},
	"audit.emptyFiltered":          {"No calls match these filters.", "没有符合筛选条件的调用。"},
	"audit.total":                  {"Calls: %d · page %d of %d", "共 %d 次调用 · 第 %d / %d 页"},
	"keys.recentCalls":             {"Recent calls", "最近调用"},
	"keys.col.scope":               {"Scope", "作用范围"},
	"keys.soon":                    {"expires within 7 days", "7 天内过期"},
	"keys.expiringSoon":            {"%d of your keys expire within 7 days: create replacements before scripts stop working.", "您有 %d 个密钥将在 7 天内过期，请在脚本失效前创建新密钥。"},
	"menu.tokens":                  {"Personal access tokens", "个人访问令牌"},
	"tokens.title":                 {"Personal access tokens", "个人访问令牌"},
	"tokens.intro":                 {"A personal access token is a bearer token itself: scripts send it as is, with no exchange. It is shown once, when created.", "个人访问令牌本身就是 Bearer Token：脚本直接携带即可，无需换取。令牌仅在创建时显示一次。"},
	"tokens.count":                 {"%d of %d tokens", "%d / %d 个令牌"},
	"tokens.add":                   {"Create token", "创建令牌"},
	"tokens.limit":                 {"You have %d of %d tokens: delete one to create another.", "已有 %d 个令牌（上限 %d 个），请先删除一个再创建。"},
	"tokens.expiringSoon":          {"%d of your tokens expire within 7 days.", "您有 %d 个令牌将在 7 天内过期。"},
	"tokens.empty":                 {"No personal access tokens yet.", "还没有个人访问令牌。"},
	"tokens.col.name":              {"Name", "名称"},
	"tokens.howto":                 {"How to use a token", "如何使用令牌"},
	"tokens.new.title":             {"Create a personal access token", "创建个人访问令牌"},
	"tokens.new.expiresHint":       {"(your local time; empty: the longest allowed)", "（本地时间；留空为允许的最长期限）"},
	"tokens.new.create":            {"Create", "创建"},
	"tokens.created.title":         {"Token created", "令牌已创建"},
	"tokens.created.warning":       {"Copy the token now: you will not see it again.", "请立即复制令牌：关闭后将无法再次查看。"},
	"tokens.token":                 {"Token", "令牌"},
	"tokens.confirmDelete":         {"Delete token %s? Scripts using it stop working at once.", "确定删除令牌 %s？使用它的脚本将立即失效。"},
	"scope.full":                   {"Full access (as you)", "完全访问（与您相同）"},
	"scope.clusters":               {"Clusters", "集群"},
	"scope.namespaces":             {"Namespaces", "命名空间"},
	"scope.readOnly":               {"read-only", "只读"},
	"scope.readOnlyLong":           {"Read-only: get, list and watch only (no exec, attach or port-forward)", "只读：仅允许 get、list 和 watch（不可 exec、attach 或端口转发）"},
	"scope.mint":                   {"may mint cluster credentials", "可签发集群凭证"},
	"scope.mintLong":               {"May mint cluster credentials (ServiceAccount tokens, certificate requests), which escape these limits", "可签发集群凭证（ServiceAccount Token、证书签名请求），签发的凭证不受这些限制"},
	"scope.sources":                {"Source addresses", "来源地址"},
	"scope.limit":                  {"Limit what it can do (optional)", "限制作用范围（可选）"},
	"scope.intro":                  {"Limits only narrow what you may do: each cluster's RBAC still decides.", "限制只会缩小您的权限：最终仍由各集群的 RBAC 决定。"},
	"scope.clustersHint":           {"None ticked: every cluster.", "不勾选：所有集群。"},
	"scope.namespacesHint":         {"Comma-separated; \"ns\" in any cluster or \"cluster/ns\". Empty: every namespace. With namespaces, cluster-wide requests are refused.", "以逗号分隔；\"ns\" 表示任意集群中的该命名空间，\"cluster/ns\" 表示指定集群。留空：所有命名空间。限定命名空间后，集群级请求将被拒绝。"},
	"scope.sourcesHint":            {"Comma-separated addresses or CIDRs it may be used from. Empty: anywhere.", "以逗号分隔的 IP 地址或 CIDR，仅允许从这些地址使用。留空：不限。"},
	"users.title":                  {"Users", "用户"},
	"users.intro":                  {"Local users of the gateway. Disabling a user or resetting their password ends their sessions and tokens at once.", "网关的本地用户。禁用用户或重置密码会立即使其所有会话和 Token 失效。"},
	"users.search":                 {"Search by name or email", "按名称或邮箱搜索"},
	"users.searchButton":           {"Search", "搜索"},
	"users.empty":                  {"No user matches.", "没有匹配的用户。"},
	"users.total":                  {"Users: %d · page %d of %d", "共 %d 个用户 · 第 %d / %d 页"},
	"pager.prev":                   {"Previous", "上一页"},
	"pager.next":                   {"Next", "下一页"},
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
	"password.done": {"Password changed. Every session and exchanged token, this one included, has ended: log in again with the new password. Access keys and personal access tokens stay valid: delete on the Access keys page any you no longer trust.",
		"密码已修改。包括当前会话在内的所有会话和换取的 Token 均已失效，请使用新密码重新登录。访问密钥和个人访问令牌仍然有效：不再信任的请在“访问密钥”页面删除。"},
	"password.login": {"Log in again", "重新登录"},
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
